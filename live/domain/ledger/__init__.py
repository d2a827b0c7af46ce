"""The ledger as data: its hash chain, the recount, the audit and the replay of results. Pure."""
