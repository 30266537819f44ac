"""The inbound pipeline: a raw delivery verified and parsed by its plugin, then written with
every other queued delivery in one group commit (``pipeline``), what of it is kept raw
(``raw_store``), the routing cache, and provider events (retractions, edits, customer events).
Above the inbox, whose chats, assignment and notifications it fills."""
