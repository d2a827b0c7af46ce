-- likes.lua: count one merged batch of likes (one call per flush tick per process).
-- The per-device per-second cap is enforced here, atomically across processes.
--
-- KEYS[1] like budget key prefix (the second is appended)   KEYS[2] likes hash (taps, counted)
-- KEYS[3] version counter                    KEYS[4] ledger stream
-- ARGV[1] cap per device per second  ARGV[2] now (ms; 0: Redis's clock)
-- ARGV[3..] device, n, device, n, ...
-- The second is Redis's (not the sending host's), so every process fills the same budget.
-- Returns {taps, counted, version}.

local cap = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
if now == 0 then now = now_ms() end
local budget = KEYS[1] .. math.floor(now / 1000)
local taps, counted, devices = 0, 0, 0
for i = 3, #ARGV, 2 do
  local n = tonumber(ARGV[i + 1])
  taps = taps + n
  devices = devices + 1
  local used = tonumber(redis.call('HGET', budget, ARGV[i]) or '0')
  local take = math.min(n, cap - used)
  if take > 0 then
    redis.call('HINCRBY', budget, ARGV[i], take)
    counted = counted + take
  end
end
redis.call('PEXPIRE', budget, 2000)
redis.call('HINCRBY', KEYS[2], 'taps', taps)
redis.call('HINCRBY', KEYS[2], 'counted', counted)
ledger_append(KEYS[4], {'k', 'likes', 'taps', taps, 'counted', counted,
  'devices', devices, 't', tostring(now)})
local version = redis.call('INCR', KEYS[3])
return {taps, counted, version}
