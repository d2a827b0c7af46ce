-- staff.lua: a staff login and a change of a member (revoke, role) in one atomic step each.
-- Atomicity is the point: a login that checked "active" in Python could be overtaken by a
-- revocation that read the member's sessions before the new one was added, leaving a live
-- session for a revoked member. Here both read and write the member in one step.
-- Session keys are made from ARGV[prefix] .. hash; they share the show's hash tag with KEYS,
-- so they live in the same cluster slot.
--
-- op 'login':  KEYS[1] staff hash  KEYS[2] the member's session set  KEYS[3] ledger
--   ARGV[2] staff id  ARGV[3] session key prefix ('...:sess:')  ARGV[4] session hash
--   ARGV[5] csrf token  ARGV[6] session ttl (s)  ARGV[7] unused (Redis's clock)
--   Returns {'ok', name, role}, {'inactive'} or {'unknown'}.
-- op 'update': KEYS[1] staff hash  KEYS[2] the member's session set  KEYS[3] ledger
--   ARGV[2] staff id  ARGV[3] session key prefix  ARGV[4] new role ('' keeps it)
--   ARGV[5] 'False' to revoke ('' keeps it)  ARGV[6] unused (Redis's clock)
--   Returns the member's record (JSON) after the change, or '' when there is no such member.

local op, staff, prefix = ARGV[1], ARGV[2], ARGV[3]
local raw = redis.call('HGET', KEYS[1], staff)

if op == 'login' then
  if not raw then return {'unknown'} end
  local rec = cjson.decode(raw)
  if not rec.active then return {'inactive'} end
  local key = prefix .. ARGV[4]
  redis.call('HSET', key, 'staff', staff, 'name', rec.name, 'role', rec.role, 'csrf', ARGV[5])
  redis.call('EXPIRE', key, tonumber(ARGV[6]))
  redis.call('SADD', KEYS[2], ARGV[4])
  ledger_append(KEYS[3], {'k', 'staff', 'op', 'login', 'staff', staff, 't', tostring(now_ms())})
  return {'ok', rec.name, rec.role}
end

if op == 'update' then
  if not raw then return '' end
  local rec = cjson.decode(raw)
  if ARGV[4] ~= '' then rec.role = ARGV[4] end
  if ARGV[5] == 'False' then rec.active = false end
  local encoded = cjson.encode(rec)
  redis.call('HSET', KEYS[1], staff, encoded)
  for _, key in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    if rec.active then
      if redis.call('EXISTS', prefix .. key) == 1 then
        redis.call('HSET', prefix .. key, 'role', rec.role)
      end
    else
      redis.call('DEL', prefix .. key)
    end
  end
  if not rec.active then redis.call('DEL', KEYS[2]) end
  local active = 'False'
  if rec.active then active = 'True' end
  ledger_append(KEYS[3], {'k', 'staff', 'op', 'update', 'staff', staff, 'role', rec.role,
    'active', active, 't', tostring(now_ms())})
  return encoded
end

return redis.error_reply('unknown op ' .. tostring(op))
