"""The two queues kept in the database: the outbox (what goes out to providers, claimed under a
lease, retried, billed) and the flow events (what bots are told). Below the inbox, which
enqueues into both."""
