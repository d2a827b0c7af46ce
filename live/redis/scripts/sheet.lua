-- sheet.lua: change one judge's sheet for one contestant, atomically.
-- Atomic so that a retried save, a lock and an admin correction can never interleave: the
-- replay check, the lock check, the revision check, the write and the ledger entry are one step.
--
-- KEYS[1] sheets hash of the category (field "judge|contestant" -> JSON record)
-- KEYS[2] ledger stream
-- ARGV[1] field  ARGV[2] op (save|submit|lock|recuse|unrecuse|correct)  ARGV[3] marks JSON
-- ARGV[4] save_id (idempotency key from the client)  ARGV[5] base revision (-1: any)
-- ARGV[6] actor  ARGV[7] unused (Redis's clock)  ARGV[8] reason (corrections)  ARGV[9] category
-- Returns {outcome, record JSON}: outcome ok | replay | locked | conflict | recused | empty.

local field, op, marks, save_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local base = tonumber(ARGV[5])
local cur = redis.call('HGET', KEYS[1], field)
local rec
if cur then
  rec = cjson.decode(cur)
else
  rec = {state = 'empty', rev = 0, marks = {}, save_id = '', at = 0, by = ''}
end
local function out(outcome)
  return {outcome, cur or cjson.encode(rec)}
end

if save_id ~= '' and rec.save_id == save_id then
  return out('replay')  -- a retry of a change already made (its reply was lost)
end
if op == 'correct' then
  if rec.state ~= 'submitted' and rec.state ~= 'locked' then
    return out('empty')
  end
else
  if rec.state == 'locked' then
    return out('locked')
  end
  if base >= 0 and base ~= tonumber(rec.rev) then
    return out('conflict')
  end
  if rec.state == 'recused' and op ~= 'unrecuse' then
    return out('recused')
  end
end

local before = cjson.encode(rec.marks)
local was = rec.state
if op == 'save' then
  rec.marks = cjson.decode(marks)
  rec.state = 'draft'
elseif op == 'submit' then
  rec.marks = cjson.decode(marks)
  rec.state = 'submitted'
elseif op == 'lock' then
  rec.marks = cjson.decode(marks)
  rec.state = 'locked'
elseif op == 'recuse' then
  rec.marks = {}
  rec.state = 'recused'
elseif op == 'unrecuse' then
  rec.state = 'draft'
elseif op == 'correct' then
  rec.marks = cjson.decode(marks)
  rec.corrections = (tonumber(rec.corrections) or 0) + 1
end
rec.rev = tonumber(rec.rev) + 1
rec.save_id = save_id
rec.at = now_ms()
rec.by = ARGV[6]
local encoded = cjson.encode(rec)
redis.call('HSET', KEYS[1], field, encoded)
-- A draft save is private to the judge, unless it takes a submitted sheet out of the count.
if op ~= 'save' or was == 'submitted' then
  ledger_append(KEYS[2], {'k', 'sheet', 'op', op, 'cat', ARGV[9], 'sheet', field,
    'by', ARGV[6], 'why', ARGV[8], 'before', before, 'after', cjson.encode(rec.marks),
    't', tostring(now_ms())})
end
return {'ok', encoded}
