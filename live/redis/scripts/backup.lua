-- backup.lua: every key of one partition of a show, read in one atomic step, so that the
-- tallies, caps, sheets and publications read belong together with the ledger up to the id
-- returned for it (the ledger and other streams are append-only: their entries up to that id
-- are read afterwards, in chunks).
--
-- KEYS: the partition's keys (found by SCAN; ephemeral families left out)
-- Returns per key {type, value}: hash/set/zset/list as flat arrays, string as text, stream as
-- its last entry id ('' when empty); 'none' for a key gone since the SCAN.

local out = {}
for i, key in ipairs(KEYS) do
  local t = redis.call('TYPE', key)['ok']
  local v
  if t == 'hash' then v = redis.call('HGETALL', key)
  elseif t == 'set' then v = redis.call('SMEMBERS', key)
  elseif t == 'zset' then v = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  elseif t == 'list' then v = redis.call('LRANGE', key, 0, -1)
  elseif t == 'string' then v = redis.call('GET', key)
  elseif t == 'stream' then
    local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
    v = last and last[1] or ''
  else v = '' end
  out[i] = {t, v}
end
return out
