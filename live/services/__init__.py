"""Use cases: validate with the domain, write through the Redis adapter. No HTTP, no sockets."""
