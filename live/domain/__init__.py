"""The domain: show, stage, ballots, access, judging, fraud signals, the ledger and the
reconciler. Pure rules, no I/O: nothing here imports ``redis``, ``starlette`` or a socket."""
