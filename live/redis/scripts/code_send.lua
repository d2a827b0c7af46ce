-- code_send.lua: decide whether a phone code may be sent and, if so, keep it, in one atomic
-- step (two requests racing each other cannot both pass a limit, the captcha's threshold or
-- the server's budget).
--
-- KEYS[1] the number's code hash (c: digest, n: attempts made)  KEYS[2] the number's send log
-- KEYS[3] the address's send log  KEYS[4] the subnet's (/24, /64)  KEYS[5] the device's
-- KEYS[6] every send of the server (the budget's log)  KEYS[7] the breaker (set: no sending)
-- (send logs: sorted sets, id by time in ms; addresses, subnets and devices named by keyed hash)
-- ARGV[1] now (ms)  ARGV[2] the code's digest  ARGV[3] its lifetime (ms)  ARGV[4] a unique id
-- ARGV[5] n number limits, then per limit: count, window (ms), reason; then the same three for
-- the address, the subnet, the device and the budget; then the sends one address (or subnet)
-- may ask for in its window before a captcha is needed, and whether this request solved one
-- Returns {'sent', '', 0} | {'limited', reason, retry_after_ms} | {'captcha', '', 0}.

local now = tonumber(ARGV[1])
local n = tonumber(ARGV[5])
local checks = {}
for i = 1, n do
  checks[#checks + 1] = {KEYS[2], ARGV[3 + 3 * i], ARGV[4 + 3 * i], ARGV[5 + 3 * i]}
end
local at = 6 + 3 * n
for j = 0, 2 do  -- address, subnet, device
  checks[#checks + 1] = {KEYS[3 + j], ARGV[at + 3 * j], ARGV[at + 3 * j + 1], ARGV[at + 3 * j + 2]}
end
local budget = {KEYS[6], tonumber(ARGV[at + 9]), tonumber(ARGV[at + 10]), ARGV[at + 11]}
local captcha_after, solved = tonumber(ARGV[at + 12]), ARGV[at + 13] == '1'

-- The breaker: once the server's budget is spent, nothing is sent until it closes again.
local open_ms = redis.call('PTTL', KEYS[7])
if open_ms > 0 then return {'limited', budget[4], open_ms} end

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
local spent = redis.call('ZCOUNT', budget[1], now - budget[3] + 1, '+inf')
if not solved then
  -- The captcha is asked once the address, or its /24 or /64 (addresses are cheap, a /64 has
  -- 2^64 of them), has had its share this window, and of everyone once half the server's
  -- budget is spent (many networks at once: the breaker would otherwise stop every send).
  local address_span, subnet_span = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 4])
  if redis.call('ZCOUNT', KEYS[3], now - address_span + 1, '+inf') >= captcha_after
      or redis.call('ZCOUNT', KEYS[4], now - subnet_span + 1, '+inf') >= captcha_after
      or spent * 2 >= budget[2] then
    return {'captcha', '', 0}
  end
end
if spent >= budget[2] then
  redis.call('SET', KEYS[7], tostring(now), 'PX', budget[3])
  return {'limited', budget[4], budget[3]}
end
longest[budget[1]] = budget[3]
for key, span in pairs(longest) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, span)
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'c', ARGV[2], 'n', 0, 'exp', now + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return {'sent', '', 0}
