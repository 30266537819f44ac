"""What managers work with: chats and their states, assignment and teams, lists and the sidebar,
composing replies and notes (capabilities, uploads, macros, forms, mentions), customers and
their customer links, and notifications. Writes through ``storage`` and ``queues``."""
