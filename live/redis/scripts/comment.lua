-- comment.lua: post one comment, decided in one atomic step: idempotency, the word list's
-- revision, the device's ban, the repeat check, the per-minute cap, then the record.
--
-- KEYS[1] comments hash  KEYS[2] the zset of the comment's state  KEYS[3] feed zset
-- KEYS[4] version  KEYS[5] banned devices set  KEYS[6] word-list revision hash (rev)
-- KEYS[7] the device's window counter (this minute)  KEYS[8] the device's repeat mark (this text)
-- KEYS[9] the device's comments (zset)  KEYS[10] the address's window counter (this minute)
-- KEYS[11] the subnet's (/24, /64) window counter (this minute)
-- ARGV[1] comment id  ARGV[2] now (ms, the service's clock)  ARGV[3] the word-list revision the
--   filter was built at  ARGV[4] state (pending, approved, rejected)  ARGV[5] record JSON
-- ARGV[6] comments allowed per window  ARGV[7] when the window ends (ms)  ARGV[8] repeat (ms)
-- ARGV[9] the device's pseudonym  ARGV[10] the feed member (approved only)
-- ARGV[11] comments allowed per window from the address  ARGV[12] from the subnet (0: no such
--   limit, e.g. a platform's chat, which has no address of ours)
-- Returns {'exists', record} | {'stale', revision} | {'banned'} | {'duplicate'}
--   | {'limited', retry after ms, which: device|address|subnet} | {'ok', version or 0}
-- Checks that refuse change nothing, except the windows' counts up to the refusing one.

local now = tonumber(ARGV[2])
local found = redis.call('HGET', KEYS[1], ARGV[1])
if found then return {'exists', found} end
local rev = redis.call('HGET', KEYS[6], 'rev') or '0'
if rev ~= ARGV[3] then return {'stale', rev} end
if redis.call('SISMEMBER', KEYS[5], ARGV[9]) == 1 then return {'banned'} end
local until_ms = redis.call('GET', KEYS[8])
if until_ms and tonumber(until_ms) > now then return {'duplicate'} end
-- The windows in turn, device, address, subnet (a fresh cookie from one address is still that
-- address): an attempt counts in each window up to the one that refuses it, not beyond (one
-- cookie past its own cap must not use up its address's or its network's minute for everyone
-- behind them).
local windows = {{KEYS[7], ARGV[6], 'device'}, {KEYS[10], ARGV[11], 'address'},
  {KEYS[11], ARGV[12], 'subnet'}}
for _, w in ipairs(windows) do
  local cap = tonumber(w[2])
  if cap > 0 then
    local n = redis.call('INCR', w[1])
    if n == 1 then redis.call('PEXPIRE', w[1], 120000) end  -- cleanup (the service's minute)
    if n > cap then
      return {'limited', math.max(1, tonumber(ARGV[7]) - now), w[3]}
    end
  end
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
