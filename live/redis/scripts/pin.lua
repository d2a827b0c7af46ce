-- pin.lua: pin an approved comment on the overlay, or unpin one, in one atomic step (the cap on
-- pinned messages holds whoever pins at the same time).
--
-- KEYS[1] danmaku hash (field pinned: JSON list of {id, text})  KEYS[2] version
-- KEYS[3] comments hash
-- ARGV[1] pin or unpin  ARGV[2] comment id  ARGV[3] most pinned at once
-- ARGV[4] the show's channel  ARGV[5] the show id
-- Returns {'missing'} (pin: no such approved comment) | {'ok', pinned JSON, version or 0}

local raw = redis.call('HGET', KEYS[1], 'pinned')
local pinned = {}
if raw and raw ~= '' then pinned = cjson.decode(raw) end
local kept, found = {}, false
for _, p in ipairs(pinned) do
  if p.id == ARGV[2] then found = true else kept[#kept + 1] = p end
end
if ARGV[1] == 'pin' then
  local rec = redis.call('HGET', KEYS[3], ARGV[2])
  if not rec then return {'missing'} end
  local c = cjson.decode(rec)
  if c.state ~= 'approved' then return {'missing'} end
  kept[#kept + 1] = {id = c.id, text = c.text}
  while #kept > tonumber(ARGV[3]) do table.remove(kept, 1) end
elseif not found then
  return {'ok', raw or '[]', 0}
end
local out = '[]'  -- cjson writes an empty table as {}
if #kept > 0 then out = cjson.encode(kept) end
redis.call('HSET', KEYS[1], 'pinned', out)
local version = redis.call('INCR', KEYS[2])
redis.call(PUBLISH_CMD, ARGV[4], ARGV[5])
return {'ok', out, version}
