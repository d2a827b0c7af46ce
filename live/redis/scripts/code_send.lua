-- code_send.lua: decide whether a phone code may be sent and, if so, keep it, in one atomic
-- step (two requests for one number racing each other cannot both pass the per-minute limit).
--
-- KEYS[1] the number's code hash (c: digest, n: attempts made)  KEYS[2] the number's send log
-- KEYS[3] the address's send log   KEYS[4] the device's send log  (sorted sets: id by time, ms)
-- ARGV[1] now (ms)  ARGV[2] the code's digest  ARGV[3] its lifetime (ms)  ARGV[4] a unique id
-- ARGV[5] n number limits, then per limit: count, window (ms), reason
-- then the address's count, window, reason, then the device's count, window, reason
-- Returns {'sent', ''} or {'limited', reason, retry_after_ms}.

local now = tonumber(ARGV[1])
local n = tonumber(ARGV[5])
local checks = {}
for i = 1, n do
  checks[#checks + 1] = {KEYS[2], ARGV[3 + 3 * i], ARGV[4 + 3 * i], ARGV[5 + 3 * i]}
end
local at = 6 + 3 * n
checks[#checks + 1] = {KEYS[3], ARGV[at], ARGV[at + 1], ARGV[at + 2]}
checks[#checks + 1] = {KEYS[4], ARGV[at + 3], ARGV[at + 4], ARGV[at + 5]}

local longest = {}
for _, c in ipairs(checks) do
  local key, count, span = c[1], tonumber(c[2]), tonumber(c[3])
  if (longest[key] or 0) < span then longest[key] = span end
  local inside = redis.call('ZCOUNT', key, now - span + 1, '+inf')
  if inside >= count then
    -- The oldest send that still counts leaves the window at its time + span.
    local oldest = redis.call('ZRANGEBYSCORE', key, now - span + 1, '+inf', 'WITHSCORES',
      'LIMIT', inside - count, 1)
    local wait = tonumber(oldest[2]) + span - now
    if wait < 1 then wait = 1 end
    return {'limited', c[4], wait}
  end
end
for key, span in pairs(longest) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, span)
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'c', ARGV[2], 'n', 0, 'exp', now + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return {'sent', '', 0}
