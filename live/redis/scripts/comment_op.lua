-- comment_op.lua: a moderator's decision on one comment, in one atomic step.
--
-- KEYS[1] comments hash  KEYS[2] pending zset  KEYS[3] approved zset  KEYS[4] rejected zset
-- KEYS[5] feed zset  KEYS[6] version  KEYS[7] banned devices set  KEYS[8] moderation log list
-- KEYS[9] the comment's device's comments (zset)
-- ARGV[1] comment id  ARGV[2] op (approve, reject, ban)  ARGV[3] by  ARGV[4] the reason
-- ARGV[5] now (ms)  ARGV[6] the comment's feed member (its exact JSON)
-- approve: into the approved set and the feed; reject: out of the feed (if it was there) into
-- the rejected set; ban: reject, refuse the device's comments from now on, and reject its
-- comments still pending. Every decision is appended to the moderation log.
-- Returns {'missing'} | {'ok', record JSON, version or 0, comments the ban also rejected}

local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {'missing'} end
local sets = {pending = KEYS[2], approved = KEYS[3], rejected = KEYS[4]}
local now, op = tonumber(ARGV[5]), ARGV[2]
local rec = cjson.decode(raw)
local bump = false

local function move(id, r, state, member)
  if r.state == state then return end
  redis.call('ZREM', sets[r.state], id)
  redis.call('ZADD', sets[state], now, id)
  if r.state == 'approved' then
    redis.call('ZREM', KEYS[5], member)
    bump = true
  end
  if state == 'approved' then
    redis.call('ZADD', KEYS[5], now, member)
    bump = true
  end
  r.state = state
end

if op == 'approve' then
  move(ARGV[1], rec, 'approved', ARGV[6])
  rec.reason = ''
else
  if rec.state ~= 'rejected' then rec.reason = 'moderator' end
  move(ARGV[1], rec, 'rejected', ARGV[6])
end
rec.by, rec.note, rec.decided = ARGV[3], ARGV[4], now
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
local swept = 0
if op == 'ban' then
  redis.call('SADD', KEYS[7], rec.dev)
  for _, id in ipairs(redis.call('ZRANGE', KEYS[9], 0, -1)) do  -- the device's, not the queue
    local other = redis.call('HGET', KEYS[1], id)
    if other then
      local r = cjson.decode(other)
      if r.dev == rec.dev and r.state == 'pending' then
        move(id, r, 'rejected', '')
        r.reason, r.by, r.note, r.decided = 'banned', ARGV[3], ARGV[4], now
        redis.call('HSET', KEYS[1], id, cjson.encode(r))
        swept = swept + 1
      end
    end
  end
end
redis.call('RPUSH', KEYS[8], cjson.encode({op = 'comment_' .. op, by = ARGV[3], why = ARGV[4],
  ref = ARGV[1], t = now}))
local version = 0
if bump then version = redis.call('INCR', KEYS[6]) end
return {'ok', cjson.encode(rec), version, swept}
