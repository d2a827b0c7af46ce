-- likes.lua: count one merged batch of likes (one call per flush tick per process).
-- The per-device per-second cap is enforced here, atomically across processes.
--
-- KEYS[1] like budget hash for this second   KEYS[2] likes hash (taps, counted)
-- KEYS[3] version counter                    KEYS[4] ledger stream
-- ARGV[1] cap per device per second  ARGV[2] now (ms)  ARGV[3..] device, n, device, n, ...
-- Returns {taps, counted, version}.

local cap = tonumber(ARGV[1])
local taps, counted, devices = 0, 0, 0
for i = 3, #ARGV, 2 do
  local n = tonumber(ARGV[i + 1])
  taps = taps + n
  devices = devices + 1
  local used = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  local take = math.min(n, cap - used)
  if take > 0 then
    redis.call('HINCRBY', KEYS[1], ARGV[i], take)
    counted = counted + take
  end
end
redis.call('PEXPIRE', KEYS[1], 2000)
redis.call('HINCRBY', KEYS[2], 'taps', taps)
redis.call('HINCRBY', KEYS[2], 'counted', counted)
ledger_append(KEYS[4], {'k', 'likes', 'taps', taps, 'counted', counted,
  'devices', devices, 't', ARGV[2]}, nil)
local version = redis.call('INCR', KEYS[3])
return {taps, counted, version}
