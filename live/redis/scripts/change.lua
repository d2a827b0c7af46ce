-- change.lua: a few writes to one show, an optional ledger entry and an optional announcement,
-- in one atomic step (what a MULTI did; a cluster client cannot run a script in a MULTI).
-- Only the commands listed below may run; every key is declared, so a Redis Cluster routes the
-- call to the show's slot and refuses keys of another.
--
-- KEYS[1] ledger stream  KEYS[2] ledger heads at close hash  KEYS[3] version  KEYS[4..] op keys
-- ARGV[1] a category whose voting the entry closes ('' for none): its head is pinned
-- ARGV[2] '1': bump the version and announce the show on its channel
-- ARGV[3] the show's channel  ARGV[4] the show id  ARGV[5] number of ops
-- then per op: command, key index, argument count, arguments
-- then the entry's field/value pairs (none: no entry); 't' is added (Redis time) when absent.
-- Returns {entry id or '', version or 0}.

local ALLOWED = {HSET = true, HSETNX = true, HDEL = true, SADD = true, SREM = true,
  SETNX = true, SET = true, DEL = true, RPUSH = true, PEXPIRE = true}
local i = 6
for _ = 1, tonumber(ARGV[5]) do
  local cmd, key, argc = ARGV[i], KEYS[tonumber(ARGV[i + 1])], tonumber(ARGV[i + 2])
  if not ALLOWED[cmd] then return redis.error_reply('change.lua: command not allowed ' .. cmd) end
  redis.call(cmd, key, unpack(ARGV, i + 3, i + 2 + argc))
  i = i + 3 + argc
end
local id, t = '', nil
if i <= #ARGV then
  local fields = {}
  for j = i, #ARGV, 2 do
    fields[#fields + 1] = ARGV[j]
    fields[#fields + 1] = ARGV[j + 1]
    if ARGV[j] == 't' then t = tonumber(ARGV[j + 1]) end
  end
  if not t then
    t = now_ms()
    fields[#fields + 1] = 't'
    fields[#fields + 1] = tostring(t)
  end
  local n, h
  id, n, h = ledger_append(KEYS[1], fields)
  if ARGV[1] ~= '' then
    redis.call('HSET', KEYS[2], ARGV[1], cjson.encode({n = n, h = h, id = id, t = t}))
  end
end
local version = 0
if ARGV[2] == '1' then
  version = redis.call('INCR', KEYS[3])
  redis.call(PUBLISH_CMD, ARGV[3], ARGV[4])
end
return {id, version}
