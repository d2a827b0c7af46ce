-- publish.lua: append a published result and announce it, atomically.
-- Atomic so that two admins publishing at once get versions n and n + 1, never the same one,
-- and the ledger entry and the pushed version always agree with the list.
--
-- KEYS[1] publications list  KEYS[2] published hash (category -> version)
-- KEYS[3] ledger stream      KEYS[4] show version counter
-- ARGV[1] record JSON  ARGV[2] category  ARGV[3] actor  ARGV[4] unused (Redis's clock stamps the entry)
-- ARGV[5] pub/sub channel  ARGV[6] show id  ARGV[7] sha256 of the record
-- Returns the new publication version.
local n = redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], n)
ledger_append(KEYS[3], {'k', 'publish', 'cat', ARGV[2], 'version', n, 'by', ARGV[3],
  'sha256', ARGV[7], 't', tostring(now_ms())})
redis.call('INCR', KEYS[4])
redis.call(PUBLISH_CMD, ARGV[5], ARGV[6])
return n
