-- append.lua: one ledger entry written from Python (staff, display, voting, approval changes).
-- KEYS[1] ledger stream   ARGV field/value pairs (no personal fields)
-- Returns the new entry's id.
local fields = {}
for i = 1, #ARGV do fields[i] = ARGV[i] end
return ledger_append(KEYS[1], fields, nil)
