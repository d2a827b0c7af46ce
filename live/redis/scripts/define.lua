-- define.lua: store the show file of a show set up in the browser, in one atomic step with its
-- guard and its ledger entry. A new show takes an id no show has used; a new definition of an
-- existing one is taken only while the show waits, no category's voting has started, and the
-- caller saw the current revision (two organisers editing at once: the second is told to
-- reload, not silently overwritten). Replacing a definition ends the details edited before it
-- (the new definition carries them) and re-seeds the categories' rules from it.
--
-- KEYS[1] definition hash  KEYS[2] stage  KEYS[3] contestant edits  KEYS[4] version
-- KEYS[5] ledger  KEYS[6..] the new definition's category hashes, then the current one's (only
--         checked: a category being dropped whose voting started also fixes the show)
-- ARGV[1] 'create' | 'replace'  ARGV[2] the show file (TOML)  ARGV[3] its revision
-- ARGV[4] the revision the caller replaces, and after a '.' the fingerprint of the details it
--         saw edited (live.domain.setup.edits_digest; computed again here)  ARGV[5] actor  ARGV[6] channel  ARGV[7] show id
-- ARGV[8] the first contestant in running order  ARGV[9] JSON {contestant: photo revision} of
-- the new definition  then per category: open cap per hide
-- Returns {status, version}: status 'ok', 'taken', 'unknown', 'stale' or 'started'.

local current = redis.call('HGET', KEYS[1], 'rev')
if ARGV[1] == 'create' then
  if current then
    if current == ARGV[3] then return {'ok', 0} end  -- the same create, retried
    return {'taken', 0}
  end
  if redis.call('EXISTS', KEYS[2]) == 1 then return {'taken', 0} end  -- a show had this id
else
  if not current then return {'unknown', 0} end
  local phase = redis.call('HGET', KEYS[2], 'phase')
  if phase and phase ~= 'waiting' then return {'started', 0} end
  for i = 6, #KEYS do
    if redis.call('HGET', KEYS[i], 'started') == '1' then return {'started', 0} end
  end
  local flat = redis.call('HGETALL', KEYS[3])
  local photos = cjson.decode(ARGV[9])
  local total = 0
  for j = 1, #flat, 2 do
    local f, v = flat[j], flat[j + 1]
    if string.sub(f, -6) == ':photo' then
      -- A photo uploaded since the page read the show: a contestant the new definition keeps
      -- must carry it (the page that uploaded it does), or the save would drop the upload.
      local want = photos[string.sub(f, 1, -7)]
      if want ~= nil and want ~= v then return {'stale', 0} end
    else
      total = total + tonumber(string.sub(redis.sha1hex(f .. '=' .. v), 1, 8), 16)
    end
  end
  if current .. '.' .. string.format('%d', total % 4294967296) ~= ARGV[4] then
    return {'stale', 0}
  end
end
redis.call('HSET', KEYS[1], 'toml', ARGV[2], 'rev', ARGV[3])
local version = 0
local seeded = 5 + (#ARGV - 9) / 4  -- the last key of the new definition's categories
if ARGV[1] == 'replace' then
  local edited = redis.call('HKEYS', KEYS[3])
  if #edited > 0 then redis.call('HDEL', KEYS[3], unpack(edited)) end
  for i = 6, seeded do
    local a = 10 + (i - 6) * 4
    redis.call('HSET', KEYS[i], 'open', ARGV[a], 'cap', ARGV[a + 1], 'per', ARGV[a + 2],
      'hide', ARGV[a + 3], 'only', '', 'until', '0')
    if ARGV[a] == '1' then redis.call('HSET', KEYS[i], 'started', '1') end
  end
  if redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('HSET', KEYS[2], 'contestant', ARGV[8])
  end
  version = redis.call('INCR', KEYS[4])
  redis.call(PUBLISH_CMD, ARGV[6], ARGV[7])
end
ledger_append(KEYS[5], {'k', 'edit', 'what', 'definition', 'rev', ARGV[3], 'by', ARGV[5],
  't', tostring(now_ms())})
return {'ok', version}
