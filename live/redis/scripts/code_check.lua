-- code_check.lua: check a phone code against the one kept for its number, atomically counting
-- the attempt (so that parallel guesses cannot exceed the attempts allowed).
--
-- KEYS[1] the number's code hash (c: digest, n: attempts made, exp: when it expires, ms)
-- ARGV[1] now (ms)  ARGV[2] the digest of the code typed  ARGV[3] attempts allowed
-- Returns {'ok', 0}, {'wrong', attempts_left} or {'expired', 0} (none kept, expired, or its
-- attempts spent: the code is gone either way).

local got = redis.call('HMGET', KEYS[1], 'c', 'n', 'exp')
if not got[1] or tonumber(got[3]) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return {'expired', 0}
end
local tries = tonumber(got[2]) + 1
local allowed = tonumber(ARGV[3])
if got[1] == ARGV[2] then
  redis.call('DEL', KEYS[1])  -- a code is good once
  return {'ok', 0}
end
if tries >= allowed then
  redis.call('DEL', KEYS[1])
  return {'wrong', 0}
end
redis.call('HSET', KEYS[1], 'n', tries)
return {'wrong', allowed - tries}
