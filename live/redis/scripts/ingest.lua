-- ingest.lua: count a batch of platform events (bilibili, Douyin, Twitch), each decided in this
-- one atomic step: de-duplication, the chat vote's window and caps, the ledger entry, the tally.
--
-- KEYS[1] ledger stream  KEYS[2] version counter  KEYS[3] per-platform counters hash
-- KEYS[4] prefix of the seen-event sets (the day number of Redis's clock is appended)
-- KEYS[5..] per event, by index: category state hash, chat vote uses hash, source tally zset
-- ARGV[1] now (ms; 0: Redis's clock)  ARGV[2] how long a seen-event set is kept (ms)
-- ARGV[3] the events, one JSON array (one encode in the client, one decode here), each
--   [[3 indexes into KEYS], [kind (like, gift, or comment: a chat vote), platform, room,
--   event id, user pseudonym, category, contestant, count, platform ts (ms), grace (ms),
--   gift name]]
-- ARGV[4] JSON {platform: comments}: the batch's comments that are not votes (not sent one by
--   one: they change no count but this figure)
-- Returns one status per event: counted, duplicate, closed, early (typed before the window
-- opened), capped.
-- A platform delivers at least once: an event id seen within the last 24 h (at least: today's
-- and yesterday's sets) is a duplicate and changes nothing. Every counted vote, like batch and
-- gift is a ledger entry (k = chat, srclike, gift), with the user's pseudonym, never the id.

local now = tonumber(ARGV[1])
if now == 0 then now = now_ms() end
local day = math.floor(now / 86400000)
local today, yesterday = KEYS[4] .. day, KEYS[4] .. (day - 1)
local at = tostring(now)
local out = {}
local changed = false
local bumps = {}  -- per-platform counters, added once at the end of the batch
local states = {}  -- each category's state, read once per batch (nothing changes it here)
local tallies = {}  -- source tally key -> contestant -> votes counted in this batch

local function bump(platform, what, n)
  local field = platform .. ':' .. what
  bumps[field] = (bumps[field] or 0) + n
end

local function chat_vote(K, a)
  local platform, user, cat, who = a[2], a[5], a[6], a[7]
  local st = states[K[1]]
  if not st then
    st = redis.call('HMGET', K[1], 'open', 'until', 'only', 'cap', 'per', 'opened')
    states[K[1]] = st
  end
  if st[1] ~= '1' then return 'closed' end
  local deadline = tonumber(st[2] or '0')
  if deadline > 0 and now >= deadline then return 'closed' end
  if st[3] and st[3] ~= '' and st[3] ~= who then return 'closed' end
  local pts, opened = tonumber(a[9]), tonumber(st[6] or '0')
  if opened > 0 and pts > 0 and pts < opened - tonumber(a[10]) then return 'early' end
  local me = platform .. '\n' .. user
  -- Count first and take it back when over the cap: one command for the usual case.
  if redis.call('HINCRBY', K[2], me, 1) > tonumber(st[4] or '1') then
    redis.call('HINCRBY', K[2], me, -1)
    return 'capped'
  end
  local per = tonumber(st[5] or '0')
  if per > 0 then
    local pair = me .. '\n' .. who
    if redis.call('HINCRBY', K[2], pair, 1) > per then
      redis.call('HINCRBY', K[2], pair, -1)
      redis.call('HINCRBY', K[2], me, -1)
      return 'capped'
    end
  end
  -- The tally's increments are added once per contestant at the end of the batch.
  local t = tallies[K[3]] or {}
  tallies[K[3]] = t
  t[who] = (t[who] or 0) + 1
  ledger_append(KEYS[1], {'k', 'chat', 'src', platform, 'room', a[3], 'eid', a[4], 'pu', user,
    'cat', cat, 'c', who, 'pt', a[9], 't', at})
  return 'counted'
end

for _, v in ipairs(cjson.decode(ARGV[3])) do
  local K = {KEYS[v[1][1]], KEYS[v[1][2]], KEYS[v[1][3]]}
  local a = v[2]
  local kind, platform = a[1], a[2]
  local id = platform .. ':' .. a[4]
  local status
  -- SADD answers 0 when today's set has it already: one command for the check and the mark.
  if redis.call('SADD', today, id) == 0 or redis.call('SISMEMBER', yesterday, id) == 1 then
    status = 'duplicate'
    bump(platform, 'duplicates', 1)
  else
    local n = tonumber(a[8])
    if kind == 'like' then
      bump(platform, 'likes', n)
      ledger_append(KEYS[1], {'k', 'srclike', 'src', platform, 'room', a[3], 'eid', a[4],
        'pu', a[5], 'num', a[8], 'pt', a[9], 't', at})
      status = 'counted'
    elseif kind == 'gift' then
      bump(platform, 'gifts', n)
      ledger_append(KEYS[1], {'k', 'gift', 'src', platform, 'room', a[3], 'eid', a[4],
        'pu', a[5], 'num', a[8], 'gift', a[11], 'pt', a[9], 't', at})
      status = 'counted'
    else  -- a chat vote (the client sends no other comment one by one: ARGV[4])
      bump(platform, 'comments', 1)
      status = chat_vote(K, a)
      bump(platform, status == 'counted' and 'votes' or 'refused', 1)
    end
    if status == 'counted' then changed = true end
  end
  out[#out + 1] = status
end
for platform, n in pairs(cjson.decode(ARGV[4])) do bump(platform, 'comments', n) end
for field, n in pairs(bumps) do redis.call('HINCRBY', KEYS[3], field, n) end
for key, t in pairs(tallies) do
  for who, n in pairs(t) do redis.call('ZINCRBY', key, n, who) end
end
redis.call('PEXPIRE', today, tonumber(ARGV[2]))
local version = changed and redis.call('INCR', KEYS[2]) or tonumber(redis.call('GET', KEYS[2]) or '0')
out[#out + 1] = tostring(version)
return out
