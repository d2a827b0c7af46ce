-- edit.lua: change show data only while it is still allowed, in one atomic step.
-- Category rules freeze once voting has started in the category; contestant details and the
-- running order may change only while the show is waiting. The guard and the write are one
-- step so that no vote or stage change can slip between the check and the edit.
--
-- KEYS[1] the guard hash  KEYS[2] the hash to write  KEYS[3] version  KEYS[4] ledger
-- ARGV[1] guard field  ARGV[2] value that forbids the edit ('' = the field must equal ARGV[3])
-- ARGV[3] required value (used when ARGV[2] is '')  ARGV[4] pub/sub channel  ARGV[5] show id
-- ARGV[6] what (for the ledger)  ARGV[7] actor  ARGV[8] unused (Redis's clock stamps the entry)  ARGV[9..] field/value pairs
-- Returns the new version, or 0 when the guard refuses.

local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if ARGV[2] ~= '' and current == ARGV[2] then return 0 end
if ARGV[2] == '' and current ~= ARGV[3] then return 0 end
local fields = {}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
local entry = {'k', 'edit', 'what', ARGV[6], 'by', ARGV[7], 't', tostring(now_ms())}
for _, v in ipairs(fields) do entry[#entry + 1] = v end
ledger_append(KEYS[4], entry)
local version = redis.call('INCR', KEYS[3])
redis.call(PUBLISH_CMD, ARGV[4], ARGV[5])
return version
