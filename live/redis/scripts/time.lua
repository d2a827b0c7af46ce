-- time.lua: Redis's clock (ms) on the node holding KEYS[1] (a key of the show, for routing).
return now_ms()
