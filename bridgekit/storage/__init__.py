"""Everything that touches the database or the disk: the schema and its engines, the hot-path
SQL of the group commit, attachments on disk and their signed URLs, sealed secrets and key
files, and the configured integrations. Imports only ``runtime`` and the contract."""
