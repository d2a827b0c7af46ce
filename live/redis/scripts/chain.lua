-- chain.lua: prepended to every script that writes the ledger (see live/domain/ledger/chain.py).
-- Each entry ends with 'n' (its 1-based position) and 'h' = sha1hex(prev_h .. '\n' .. n ..
-- '\n' .. the entry's fields, each name and value written as <length>:<bytes>), so an edit,
-- removal or reordering breaks the chain from that entry on.
-- SHA-1 because it is the only hash Redis's Lua sandbox offers natively (redis.sha1hex, ~1 us);
-- a pure-Lua SHA-256 would cost ~100 us per vote. A chain needs second-preimage resistance
-- (forging an entry that matches an existing hash), which SHA-1 still has.
-- No entry written here carries a raw personal value: a vote's device, address and user agent
-- are written as their keyed hashes (pdev, pip, pua; see vote.lua). Ledgers written before
-- held them raw and hashed their keyed hashes instead; live/domain/ledger/chain.py still checks
-- those.

local LEDGER_GENESIS = string.rep('0', 40)

-- Redis's own clock, in ms, read once per call: every app process, on whichever host, then
-- decides windows, deadlines and rates by the same clock (the one of the node holding the show).
local NOW_MS = nil
local function now_ms()
  if not NOW_MS then
    local t = redis.call('TIME')
    NOW_MS = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return NOW_MS
end

-- The head of each ledger this call appended to ({n, h}): a script that appends many entries
-- (a batch of votes or platform events) reads the stream's last entry once, not per entry.
-- Safe because nothing else writes while a script runs.
local LEDGER_HEADS = {}

-- Returns the entry's id, its position n and its hash h.
local function ledger_append(ledger, fields)
  local n, prev = 1, LEDGER_GENESIS
  local head = LEDGER_HEADS[ledger]
  if head then
    n, prev = head[1] + 1, head[2]
  else
    local last = redis.call('XREVRANGE', ledger, '+', '-', 'COUNT', 1)[1]
    if last then
      local f = last[2]
      n = tonumber(f[#f - 2]) + 1
      prev = f[#f]
    end
  end
  local parts = {prev, '\n', n, '\n'}
  for i = 1, #fields, 2 do
    local name = fields[i]
    local value = tostring(fields[i + 1])
    fields[i + 1] = value
    parts[#parts + 1] = #name .. ':' .. name .. #value .. ':' .. value
  end
  local h = redis.sha1hex(table.concat(parts))
  fields[#fields + 1] = 'n'
  fields[#fields + 1] = tostring(n)
  fields[#fields + 1] = 'h'
  fields[#fields + 1] = h
  local id = redis.call('XADD', ledger, '*', unpack(fields))
  LEDGER_HEADS[ledger] = {n, h}
  return id, n, h
end
