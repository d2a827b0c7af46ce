-- stage.lua: compare-and-set of the stage, with its effects, in one atomic step.
-- The transition rules live in Python (live/domain/stage.py); this script makes sure that of two
-- racing changes computed from the same stage exactly one is applied.
--
-- KEYS[1] stage hash  KEYS[2] version counter  KEYS[3] ledger stream
-- KEYS[4] ledger heads at close hash   KEYS[5..] category state hashes, one per change
-- ARGV[1] expected rev  ARGV[2] pub/sub channel  ARGV[3] show id  ARGV[4] now (ms)
-- ARGV[5] n = number of stage fields, then n field/value pairs,
-- then for each category change: open, only, until, category id
-- Returns the new version, or 0 when the stage moved on since it was read.
-- A category that closes here pins the ledger's head (this entry's n and h) in KEYS[4].

if (redis.call('HGET', KEYS[1], 'rev') or '0') ~= ARGV[1] then
  return 0
end
local n = tonumber(ARGV[5])
local i = 6
local fields = {}
for _ = 1, n do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
  i = i + 2
end
redis.call('HSET', KEYS[1], unpack(fields))
local closed = {}
for k = 5, #KEYS do
  local was = redis.call('HGET', KEYS[k], 'open')
  if ARGV[i] == '0' and was == '1' then
    closed[#closed + 1] = ARGV[i + 3]
  end
  redis.call('HSET', KEYS[k], 'open', ARGV[i], 'only', ARGV[i + 1], 'until', ARGV[i + 2])
  if ARGV[i] == '1' then
    redis.call('HSET', KEYS[k], 'started', '1')
    -- When this window opened: a platform's chat vote typed before it is not counted.
    if was ~= '1' then redis.call('HSET', KEYS[k], 'opened', ARGV[4]) end
  end
  i = i + 4
end
local entry = {'k', 'stage', 't', ARGV[4]}
for _, v in ipairs(fields) do entry[#entry + 1] = v end
local id, pos, h = ledger_append(KEYS[3], entry)
for _, cat in ipairs(closed) do
  redis.call('HSET', KEYS[4], cat, cjson.encode({n = pos, h = h, id = id, t = tonumber(ARGV[4])}))
end
local version = redis.call('INCR', KEYS[2])
redis.call(PUBLISH_CMD, ARGV[2], ARGV[3])
return version
