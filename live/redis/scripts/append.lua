-- append.lua: one ledger entry written from Python (staff, display, voting, approval changes).
-- KEYS[1] ledger stream   KEYS[2] ledger heads at close hash
-- ARGV[1] a category whose voting this entry closes ('' for none): its head is pinned
-- ARGV[2..] field/value pairs (no personal fields)
-- Returns the new entry's id.
local fields, t = {}, 0
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
for i = 1, #fields, 2 do
  if fields[i] == 't' then t = tonumber(fields[i + 1]) end
end
local id, n, h = ledger_append(KEYS[1], fields, nil)
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode({n = n, h = h, id = id, t = t}))
end
return id
