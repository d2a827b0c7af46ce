-- lease.lua: take or renew a lease. KEYS[1] lease key  ARGV[1] holder  ARGV[2] ttl (ms)
-- Returns 1 while ARGV[1] holds it (taken now, or renewed), else 0.
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
