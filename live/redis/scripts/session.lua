-- session.lua: the sessions behind cookies, each as its staff member now is, in one read.
-- A session counts only while its staff member exists, is active and lists it among their
-- sessions (staff.lua adds it there at login): a session hash written by anything else (a
-- restore, a hand-edited key) is nothing. The role is the member's, not the session's copy.
-- Session keys are made from ARGV prefixes; they share the show's hash tag with KEYS[1].
--
-- KEYS[1] the staff hash   ARGV[1] session key prefix ('...:sess:')
-- ARGV[2] members' session set prefix ('...:sessions:')   ARGV[3..] session hashes
-- Returns one entry per session: {staff, name, role, csrf}, or nil where it counts for nothing.

local out = {}
for i = 3, #ARGV do
  local key = ARGV[1] .. ARGV[i]
  local staff = redis.call('HGET', key, 'staff')
  local found = false
  if staff then
    local raw = redis.call('HGET', KEYS[1], staff)
    if raw and redis.call('SISMEMBER', ARGV[2] .. staff, ARGV[i]) == 1 then
      local rec = cjson.decode(raw)
      if rec.active then
        found = {staff, rec.name, rec.role, redis.call('HGET', key, 'csrf') or ''}
      end
    end
  end
  out[#out + 1] = found
end
return out
