"""The Redis adapter: the only package that imports ``redis``. Keys, Lua scripts, one module per
noun (store, sessions, moderation, pub/sub) and the embedded redis-server."""
