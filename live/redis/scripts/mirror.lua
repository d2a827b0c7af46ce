-- mirror.lua: copy the voting state of a show's categories from partition 0 into one other
-- partition (its vote.lua reads it there, in its own slot), in one atomic step per partition.
-- A copy older than the last one applied is ignored (two copies may race: a stage change's and
-- the stage clock's heal). Opening or closing a category here appends a 'voting' entry to this
-- partition's chain; a close pins this chain's head for the category, as change.lua and
-- stage.lua do in partition 0.
--
-- KEYS[1] ledger (this partition)  KEYS[2] heads at close hash  KEYS[3] mirrored version
-- KEYS[4..] category state hashes, in ARGV order
-- ARGV[1] partition 0's version when the state was read
-- ARGV[2] '1': compare even if this version was copied already (seeding at start, which may
-- add categories without a version bump)
-- then per category: its id, the number of fields m, then m field/value pairs
-- Returns the number of categories changed here (-1: the copy was older than the last).
-- (partition 0's version grows with its votes too, so most ticks carry a newer copy.)

local from = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[3]) or '-1')
if last > from then
  return -1
end
if last == from and ARGV[2] ~= '1' then
  return 0  -- this copy was applied already (every later category change bumps the version)
end
if last < from then redis.call('SET', KEYS[3], from) end
local changed = 0
local i = 3
for k = 4, #KEYS do
  local cat, m = ARGV[i], tonumber(ARGV[i + 1])
  local fields = {}
  local differs = false
  for j = i + 2, i + 1 + 2 * m, 2 do
    local name, value = ARGV[j], ARGV[j + 1]
    fields[#fields + 1] = name
    fields[#fields + 1] = value
    if redis.call('HGET', KEYS[k], name) ~= value then differs = true end
  end
  i = i + 2 + 2 * m
  if differs and m > 0 then
    local was = redis.call('HGET', KEYS[k], 'open') or '0'
    redis.call('HSET', KEYS[k], unpack(fields))
    local now = redis.call('HGET', KEYS[k], 'open') or '0'
    if now ~= was then
      local t = now_ms()
      local id, n, h = ledger_append(KEYS[1], {'k', 'voting', 'cat', cat, 'open', now,
        'only', redis.call('HGET', KEYS[k], 'only') or '', 'by', 'partition-0',
        't', tostring(t)})
      if now == '0' then
        redis.call('HSET', KEYS[2], cat, cjson.encode({n = n, h = h, id = id, t = t}))
      end
    end
    changed = changed + 1
  end
end
return changed
