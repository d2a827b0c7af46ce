-- vote.lua: decide and record votes, each in a single atomic step (one call may carry several:
-- the votes that reached one process within one event-loop turn, decided one after another).
-- Atomicity is the point: open check, caps, windows, idempotency, ledger append, tally and
-- version all happen here so that no concurrent request can slip between a check and a write.
--
-- KEYS[1] category state hash (open, only, until, cap, per)   KEYS[2] accepted vote_id index hash
-- KEYS[3] per-device use hash (category)     KEYS[4] device window zset
-- KEYS[5] ip window zset                     KEYS[6] subnet window zset
-- KEYS[7] ledger stream                      KEYS[8] tally zset (category)
-- KEYS[9] version counter                  KEYS[10] refusal marks hash (device -> "slot:n")
-- KEYS[11] personal values hash (pseudonym -> raw value)
-- ARGV[1] vote_id  ARGV[2] device  ARGV[3] ip  ARGV[4] subnet  ARGV[5] category
-- ARGV[6] contestant  ARGV[7] now (ms; 0: Redis's clock)  ARGV[8] votes per device  ARGV[9] per contestant (0: none)
-- (ARGV[8] and ARGV[9] are the show file's; the category hash's cap/per, set at load and by an
-- edit before voting starts, win when present)
-- ARGV[10] device window count ARGV[11] its ms  ARGV[12] ip count  ARGV[13] its ms
-- ARGV[14] subnet count  ARGV[15] its ms  ARGV[16] user agent
-- ARGV[17..19] keyed hashes (pseudonyms) of device, ip and user agent
-- ARGV[20] the refusal window (ms)  ARGV[21] how long raw personal values are kept (ms)
-- ARGV[22] the verified identity's pseudonym ('' in a device-tier category)
-- ARGV[23] how that identity is shown (masked: 'phone 138****1234')
-- Per vote, 11 keys and 23 arguments, in this order (how a call carries n votes: at the end).
-- Identity tiers: with ARGV[22] set, the caps hold per identity (fields 'i:<pid>' and
-- 'i:<pid>\n<contestant>' of the uses hash, whoever's device) as well as per device, the
-- ledger entry carries 'pid', and the vote id's fingerprint ends with '\ni:<pid>' (void.lua
-- gives the identity its vote back with the device's).
-- Personal data: the ledger entry carries only the pseudonyms (pdev, pip, pua), and every hash
-- keyed by device (vote ids, uses, refusal marks) uses the device's pseudonym. The raw values
-- go only to KEYS[11], whose expiry each entry pushes to ARGV[21] from now; fraud signals and
-- moderators read them there until it expires or `live purge` deletes it.
-- Returns n*6 values: per vote {status, reason, retry_after_ms, ledger_id, version, left}
-- (left: the device's votes left in the category after an accepted vote, 0 at its cap, -1:
-- not said).
-- Every accepted vote is appended to the ledger (a replay of an accepted vote_id is not).
-- Refusals are bounded: a device's first refusal in each refusal window is an entry; the others
-- in that window are counted in the marks hash, and that count is carried by the device's next
-- refusal entry as 'more' (refusals answered since its last refusal entry). A phone hammering
-- past its limits thus adds one entry per window, not one per request.

local function vote(K, A)
  local vid, dev, ip, net, cat, who = A[1], A[2], A[3], A[4], A[5], A[6]
  -- '0': Redis's clock decides (production); tests of windows pass a fake time instead.
  local now = tonumber(A[7])
  if now == 0 then now = now_ms() end
  local at = tostring(now)

  local raw = dev
  dev = A[17]  -- from here on the device is its pseudonym
  local pid = A[22] or ''

  local function record(status, reason, more)
    local fields = {'k', 'vote', 'st', status, 'why', reason, 'vid', vid,
      'pdev', dev, 'pip', A[18], 'pua', A[19], 'cat', cat, 'c', who, 't', at}
    if pid ~= '' then
      fields[#fields + 1] = 'pid'
      fields[#fields + 1] = pid
      redis.call('HSET', K[11], pid, A[23])
    end
    if more > 0 then
      fields[#fields + 1] = 'more'
      fields[#fields + 1] = tostring(more)
    end
    redis.call('HSET', K[11], dev, raw, A[18], ip, A[19], A[16])
    redis.call('PEXPIRE', K[11], tonumber(A[21]))
    return ledger_append(K[7], fields)
  end

  local function refuse(status, reason, retry, left)
    local version = redis.call('GET', K[9]) or '0'
    local slot = tostring(math.floor(now / tonumber(A[20])))
    local more = 0
    local mark = redis.call('HGET', K[10], dev)
    if mark then
      local sep = string.find(mark, ':', 1, true)
      more = tonumber(string.sub(mark, sep + 1))
      if string.sub(mark, 1, sep - 1) == slot then
        -- Not the first refusal of this window: counted, carried by the next refusal entry.
        redis.call('HSET', K[10], dev, slot .. ':' .. (more + 1))
        return {status, reason, retry, '', version, left or -1}
      end
    end
    local id = record(status, reason, more)
    redis.call('HSET', K[10], dev, slot .. ':0')
    return {status, reason, retry, id, version, left or -1}
  end

  local fingerprint = dev .. '\n' .. cat .. '\n' .. who
  if pid ~= '' then fingerprint = fingerprint .. '\ni:' .. pid end
  local previous = redis.call('HGET', K[2], vid)
  if previous then
    if previous == fingerprint then
      -- A retry of a vote already counted (e.g. the reply was lost): same answer, no new entry.
      -- INCRBY 0 changes nothing but is a write: a WAIT after this call then waits for the
      -- replica to hold the master's log up to here, the original vote included (WAIT only
      -- covers what the calling connection wrote).
      redis.call('INCRBY', K[9], 0)
      return {'accepted', 'replay', 0, '', redis.call('GET', K[9]) or '0', -1}
    end
    return refuse('duplicate', 'vote_id_reused', 0)
  end

  -- The category's whole state in one read (open, until, only, cap, per).
  local state = redis.call('HMGET', K[1], 'open', 'until', 'only', 'cap', 'per')
  if state[1] ~= '1' then
    return refuse('closed', 'category_closed', 0)
  end
  local deadline = tonumber(state[2] or '0')
  if deadline > 0 and now >= deadline then
    -- The window's countdown ran out: closed from that instant, whenever the stage catches up.
    return refuse('closed', 'window_ended', 0)
  end
  local only = state[3]
  if only and only ~= '' and only ~= who then
    return refuse('closed', 'contestant_not_open', 0)
  end

  local pair = dev .. '\n' .. who
  local uses = redis.call('HMGET', K[3], dev, pair)
  local cap = tonumber(state[4] or A[8])
  if tonumber(uses[1] or '0') >= cap then
    return refuse('duplicate', 'cap_reached', 0, 0)
  end
  local per = tonumber(state[5] or A[9])
  if per > 0 and tonumber(uses[2] or '0') >= per then
    return refuse('duplicate', 'contestant_cap_reached', 0)
  end
  local idk, idpair = '', ''
  if pid ~= '' then
    -- The person's votes, whichever of their devices cast them.
    idk = 'i:' .. pid
    idpair = idk .. '\n' .. who
    local ids = redis.call('HMGET', K[3], idk, idpair)
    if tonumber(ids[1] or '0') >= cap then
      return refuse('duplicate', 'cap_reached', 0, 0)
    end
    if per > 0 and tonumber(ids[2] or '0') >= per then
      return refuse('duplicate', 'contestant_cap_reached', 0)
    end
  end

  -- Sliding logs: drop what left the window, then compare what remains with the limit.
  local retry = 0
  local reason = ''
  local windows = {{K[4], 10, 'device_rate'}, {K[5], 12, 'ip_rate'}, {K[6], 14, 'subnet_rate'}}
  for _, w in ipairs(windows) do
    local count, span = tonumber(A[w[2]]), tonumber(A[w[2] + 1])
    redis.call('ZREMRANGEBYSCORE', w[1], '-inf', now - span)
    if redis.call('ZCARD', w[1]) >= count then
      local oldest = redis.call('ZRANGE', w[1], 0, 0, 'WITHSCORES')
      local wait = tonumber(oldest[2]) + span - now
      if wait < 1 then wait = 1 end
      if wait > retry then retry = wait; reason = w[3] end
    end
  end
  if retry > 0 then
    return refuse('limited', reason, retry)
  end

  for _, w in ipairs(windows) do
    redis.call('ZADD', w[1], now, vid)
    redis.call('PEXPIRE', w[1], tonumber(A[w[2] + 1]))
  end
  local used = redis.call('HINCRBY', K[3], dev, 1)
  if per > 0 then redis.call('HINCRBY', K[3], pair, 1) end
  if pid ~= '' then
    local mine = redis.call('HINCRBY', K[3], idk, 1)
    if mine > used then used = mine end  -- 'left' is the smaller of the two caps' remainders
    if per > 0 then redis.call('HINCRBY', K[3], idpair, 1) end
  end
  redis.call('HSET', K[2], vid, fingerprint)
  local id = record('accepted', '', 0)
  redis.call('ZINCRBY', K[8], 1, who)
  local version = redis.call('INCR', K[9])
  return {'accepted', '', 0, id, tostring(version), cap - used}
end

-- One ARGV per vote: the JSON array [[11 indexes into KEYS], [23 arguments as strings]].
-- A batch's votes share most keys (ledger, version, category...), so KEYS holds each key once,
-- and one argument per vote (instead of 30) keeps the client's command packing cheap.
local out = {}
for i = 1, #ARGV do
  local v = cjson.decode(ARGV[i])
  local K = {}
  for j = 1, 11 do K[j] = KEYS[v[1][j]] end
  local r = vote(K, v[2])
  for j = 1, 6 do out[#out + 1] = r[j] end
end
return out
