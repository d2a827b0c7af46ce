-- void.lua: void or restore accepted votes, atomically, each with a ledger entry.
-- Atomic so that a void racing a restore (or two moderators voiding one cluster) can never
-- count a vote twice: the state check, the tally, the public count, the device's cap and the
-- ledger entry change together. Voiding a voided vote, or restoring a counted one, changes
-- nothing and writes nothing.
--
-- KEYS[1] accepted vote_id index (vid -> device \n category \n contestant [\n i:identity])
-- KEYS[2] voided hash (vid -> JSON by/why/t/ref)   KEYS[3] voided count per category hash
-- KEYS[4] ledger   KEYS[5] version   KEYS[6] moderation log list (one JSON per action)
-- KEYS[7..] per category in ARGV order: tally, used
-- ARGV[1] op (void|restore)  ARGV[2] actor  ARGV[3] reason  ARGV[4] unused (Redis's clock)
-- ARGV[5] cap policy (used|returned)  ARGV[6] pub/sub channel  ARGV[7] show id
-- ARGV[8] cluster ref ('' for single votes)  ARGV[9] n categories, then their ids, then vids
-- Returns {changed, unchanged, unknown, version}.

local op, actor, reason, now, policy = ARGV[1], ARGV[2], ARGV[3], tostring(now_ms()), ARGV[5]
local ncat = tonumber(ARGV[9])
local slot = {}
for i = 1, ncat do slot[ARGV[9 + i]] = 5 + 2 * i end
local changed, unchanged, unknown = 0, 0, 0
for i = 10 + ncat, #ARGV do
  local vid = ARGV[i]
  local fp = redis.call('HGET', KEYS[1], vid)
  local dev, cat, who, idk
  if fp then
    dev, cat, who, idk = string.match(fp, '^([^\n]*)\n([^\n]*)\n([^\n]*)\n?(.*)$')
  end
  if not cat or not slot[cat] then
    unknown = unknown + 1
  elseif (redis.call('HEXISTS', KEYS[2], vid) == 1) == (op == 'void') then
    unchanged = unchanged + 1
  else
    local tally, used = KEYS[slot[cat]], KEYS[slot[cat] + 1]
    local step = (op == 'void') and -1 or 1
    if op == 'void' then
      redis.call('HSET', KEYS[2], vid, cjson.encode({by = actor, why = reason, t = tonumber(now),
        ref = ARGV[8], cat = cat, c = who}))
    else
      redis.call('HDEL', KEYS[2], vid)
    end
    redis.call('ZINCRBY', tally, step, who)
    redis.call('HINCRBY', KEYS[3], cat, -step)
    if policy == 'returned' then
      redis.call('HINCRBY', used, dev, step)
      local pair = dev .. '\n' .. who
      if redis.call('HEXISTS', used, pair) == 1 then redis.call('HINCRBY', used, pair, step) end
      if idk ~= '' then  -- a vote of an identity tier: the person's cap too (see vote.lua)
        redis.call('HINCRBY', used, idk, step)
        local idpair = idk .. '\n' .. who
        if redis.call('HEXISTS', used, idpair) == 1 then redis.call('HINCRBY', used, idpair, step) end
      end
    end
    ledger_append(KEYS[4], {'k', op, 'vid', vid, 'cat', cat, 'c', who, 'by', actor,
      'why', reason, 'ref', ARGV[8], 't', now})
    changed = changed + 1
  end
end
local version = redis.call('GET', KEYS[5]) or '0'
if changed > 0 then
  redis.call('RPUSH', KEYS[6], cjson.encode({op = op, by = actor, why = reason, ref = ARGV[8],
    t = tonumber(now), changed = changed, unchanged = unchanged, unknown = unknown}))
  version = redis.call('INCR', KEYS[5])
  redis.call(PUBLISH_CMD, ARGV[6], ARGV[7])
end
return {changed, unchanged, unknown, tonumber(version)}
