"""The running server without its HTTP face: ``Bridge`` wires the database, the plugins, the
ingest pipeline and the workers together; ``bots`` is the flow worker that calls bot hooks."""
