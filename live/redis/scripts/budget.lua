-- budget.lua: take one unit from each of several fixed-window budgets at once, or from none.
-- (Checked and taken in one atomic step: parallel requests cannot together pass a budget.)
--
-- KEYS[i] the counter of budget i (a string, expiring with its window)
-- ARGV[1] the window (ms), or 'give' to give a unit back to each budget (only to a counter
--   that still exists and is above 0: a window that ended meanwhile is not made negative)
-- ARGV[1 + i] the units budget i allows in one window
-- Returns {0, 0} when taken (or given back), or {i, ms until budget i's window ends} when
-- budget i is spent.

if ARGV[1] == 'give' then
  for _, key in ipairs(KEYS) do
    if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('INCRBY', key, -1) end
  end
  return {0, 0}
end
local window = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', key) or '0')
  if used >= tonumber(ARGV[1 + i]) then
    local left = redis.call('PTTL', key)
    if left < 1 then left = window end
    return {i, left}
  end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, window) end
end
return {0, 0}
