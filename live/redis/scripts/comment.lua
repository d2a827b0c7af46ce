-- comment.lua: post one comment, decided in one atomic step: idempotency, the word list's
-- revision, the device's ban, the repeat check, the per-minute cap, then the record.
--
-- KEYS[1] comments hash  KEYS[2] the zset of the comment's state  KEYS[3] feed zset
-- KEYS[4] version  KEYS[5] banned devices set  KEYS[6] word-list revision hash (rev)
-- KEYS[7] the device's window counter (this minute)  KEYS[8] the device's repeat mark (this text)
-- KEYS[9] the device's comments (zset)
-- ARGV[1] comment id  ARGV[2] now (ms, the service's clock)  ARGV[3] the word-list revision the
--   filter was built at  ARGV[4] state (pending, approved, rejected)  ARGV[5] record JSON
-- ARGV[6] comments allowed per window  ARGV[7] when the window ends (ms)  ARGV[8] repeat (ms)
-- ARGV[9] the device's pseudonym  ARGV[10] the feed member (approved only)
-- Returns {'exists', record} | {'stale', revision} | {'banned'} | {'duplicate'}
--   | {'limited', retry after ms} | {'ok', version or 0}
-- Checks that refuse change nothing, except the window's count (a refused attempt counts).

local now = tonumber(ARGV[2])
local found = redis.call('HGET', KEYS[1], ARGV[1])
if found then return {'exists', found} end
local rev = redis.call('HGET', KEYS[6], 'rev') or '0'
if rev ~= ARGV[3] then return {'stale', rev} end
if redis.call('SISMEMBER', KEYS[5], ARGV[9]) == 1 then return {'banned'} end
local until_ms = redis.call('GET', KEYS[8])
if until_ms and tonumber(until_ms) > now then return {'duplicate'} end
local n = redis.call('INCR', KEYS[7])
if n == 1 then redis.call('PEXPIRE', KEYS[7], 120000) end  -- cleanup (minute of the service's clock)
if n > tonumber(ARGV[6]) then
  return {'limited', math.max(1, tonumber(ARGV[7]) - now)}
end
local repeat_ms = tonumber(ARGV[8])
redis.call('SET', KEYS[8], tostring(now + repeat_ms), 'PX', repeat_ms + 60000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZADD', KEYS[9], now, ARGV[1])
if ARGV[4] == 'approved' then
  redis.call('ZADD', KEYS[3], now, ARGV[10])
  return {'ok', redis.call('INCR', KEYS[4])}
end
return {'ok', 0}
