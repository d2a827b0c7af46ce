-- quota.lua: an organiser's grant to create shows, taken or given back in one atomic step
-- (two creations racing cannot both pass the last unit of a quota).
--
-- KEYS[1] the organisers hash: '<show>|<staff>' -> JSON {"quota": n, "used": m}
-- ARGV[1] 'take' | 'give' | 'grant'   ARGV[2] the field   ARGV[3] the quota (grant)
-- Returns {'ok', used, quota} | {'none'} (no grant) | {'spent', used, quota}.

local raw = redis.call('HGET', KEYS[1], ARGV[2])
if ARGV[1] == 'grant' then
  local rec = {quota = tonumber(ARGV[3]), used = 0}
  if raw then rec.used = cjson.decode(raw).used end
  redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(rec))
  return {'ok', rec.used, rec.quota}
end
if not raw then return {'none'} end
local rec = cjson.decode(raw)
if ARGV[1] == 'take' then
  if rec.used >= rec.quota then return {'spent', rec.used, rec.quota} end
  rec.used = rec.used + 1
elseif ARGV[1] == 'give' then
  if rec.used > 0 then rec.used = rec.used - 1 end
end
redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(rec))
return {'ok', rec.used, rec.quota}
