"""Process-wide basics every other layer uses: time (``clock``), the in-process bus for
realtime events (``events``), the counters behind ``/metrics`` (``metrics``), the loop shared by
background workers (``workers``) and lease owners (``leases``). Imports only the contract."""
