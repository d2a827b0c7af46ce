-- snapshot.lua: several reads of one show from one instant (what a read-only MULTI did).
-- KEYS: the keys read.  ARGV: per read: command, key index, argument count, arguments.
-- Returns one result per read (HGETALL and ZRANGE WITHSCORES flat; a missing value false).

local ALLOWED = {GET = true, HGET = true, HGETALL = true, HMGET = true, SMEMBERS = true,
  ZRANGE = true, XREVRANGE = true, XRANGE = true, LRANGE = true}
local out = {}
local i = 1
while i <= #ARGV do
  local cmd, key, argc = ARGV[i], KEYS[tonumber(ARGV[i + 1])], tonumber(ARGV[i + 2])
  if not ALLOWED[cmd] then return redis.error_reply('snapshot.lua: command not allowed ' .. cmd) end
  out[#out + 1] = redis.call(cmd, key, unpack(ARGV, i + 3, i + 2 + argc))
  i = i + 3 + argc
end
return out
