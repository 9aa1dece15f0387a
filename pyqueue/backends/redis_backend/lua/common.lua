-- Shared by every script of a room (prepended by scripts.py). KEYS[1] is the room's meta key;
-- the other keys share its hash tag, hence its cluster slot. ARGV[1] is "now" in microseconds,
-- from the backend's clock: the wall clock in production, a virtual clock in tests.
local META = KEYS[1]
local P = string.sub(META, 1, -5)
local T, ORDER, PRE, CHANGES = P .. 't', P .. 'order', P .. 'pre', P .. 'changes'
local SESS, SEEN, IDS, DRAW, AUDIT = P .. 'sessions', P .. 'seen', P .. 'ids', P .. 'draw', P .. 'audit'
local SLOTS, SLOTINFO, CODES, OWNED = P .. 'slots', P .. 'slotinfo', P .. 'codes', P .. 'owned'
local LABELS, CANCELLED = P .. 'labels', P .. 'cancelled'
local NOW = tonumber(ARGV[1])

-- Integers must not go through Lua's default "%.14g": micros since 1970 have 16 digits.
local function int(x) return string.format('%d', x) end
local function fmt(x)
  if x == math.floor(x) and math.abs(x) < 2^53 then return int(x) end
  return string.format('%.17g', x)
end

local M, dirty = {}, {}
local function load_meta()
  local raw = redis.call('HGETALL', META)
  if #raw == 0 then return redis.error_reply('unknown_room') end
  for i = 1, #raw, 2 do M[raw[i]] = tonumber(raw[i + 1]) or raw[i + 1] end
  return nil
end
local function set(k, v) M[k] = v; dirty[k] = true end
local function add(k, d) set(k, (M[k] or 0) + d) end
-- The line's measurement starts again (the core's LineMeter::restart), its recent stretches too.
local function restart_line_meter()
  for _, k in ipairs({'ln_passed', 'ln_admitted', 'ln_us', 'lr_passed', 'lr_admitted', 'lr_us',
                      'le_passed', 'le_admitted', 'le_us'}) do
    set(k, 0)
  end
end
local function save_meta()
  local args = {}
  for k in pairs(dirty) do
    args[#args + 1] = k
    local v = M[k]
    if type(v) == 'number' then args[#args + 1] = fmt(v) else args[#args + 1] = v end
  end
  if #args > 0 then redis.call('HSET', META, unpack(args)) end
  dirty = {}
end

local function tget(t)
  local raw = redis.call('HGET', T, t)
  if not raw then return nil end
  local f = {}
  for v in string.gmatch(raw, '[^|]+') do f[#f + 1] = v end
  return { state = f[1], pos = tonumber(f[2]), joined = tonumber(f[3]), seen = tonumber(f[4]),
           admitted = tonumber(f[5]), expires = tonumber(f[6]), ahead0 = tonumber(f[7]) }
end
local function tput(t, r)
  redis.call('HSET', T, t, table.concat({ r.state, int(r.pos), int(r.joined), int(r.seen),
    int(r.admitted), int(r.expires), int(r.ahead0) }, '|'))
end
local function packed(t, r)
  return { tostring(t), r.state, int(r.pos), int(r.joined), int(r.admitted), int(r.expires), int(r.ahead0) }
end

local function audit(action, actor, count, reason)
  redis.call('RPUSH', AUDIT, cjson.encode({ at = int(NOW), action = action, actor = actor,
    count = count, reason = reason or cjson.null }))
end

-- Allowance: rate x elapsed, never for time before opening or while paused, capped at one
-- second's worth so that a quiet spell cannot build a flood (as in the core).
local function accrue()
  local from = math.max(M.accrued_until, M.opens_at)
  if NOW <= from then return end
  set('accrued_until', NOW)
  if M.paused == 1 then return end
  local earned = M.rate * (NOW - from) / 1e6
  set('allowance', math.min(M.allowance + earned, math.max(M.rate, 1)))
end

local function admit(t, r)
  add('nwait', -1)
  r.state = 'admitted'
  r.admitted = NOW
  r.expires = NOW + M.session_us
  redis.call('ZADD', SESS, int(r.expires), t)
  add('active', 1)
  add('allowance', -1)
  add('c_admitted', 1)
end

-- Puts a ticket at the tail, and lets it straight through when nobody waits and rate and
-- capacity allow.
local function enqueue(t, r)
  local pos = M.len
  set('len', pos + 1)
  redis.call('HSET', ORDER, int(pos), t)
  local ahead = M.nwait
  add('nwait', 1)
  r.state, r.pos, r.ahead0 = 'waiting', pos, ahead
  if ahead == 0 and M.paused ~= 1 and M.queue_all ~= 1 and M.closed ~= 1 and NOW >= M.opens_at
      and M.active < M.max_active then
    accrue()
    if M.allowance >= 1 then
      -- Nobody waits, so every earlier position is settled.
      admit(t, r)
      set('cursor', pos + 1)
    end
  end
end

local function close_room()
  set('closed', 1)
  for pos = M.cursor, M.len - 1 do
    local t = redis.call('HGET', ORDER, int(pos))
    local r = tget(t)
    if r.state == 'waiting' and r.pos == pos then
      r.state = 'closed'
      tput(t, r)
    end
  end
  for _, t in ipairs(redis.call('LRANGE', PRE, 0, -1)) do
    local r = tget(t)
    if r.state == 'prequeue' then r.state = 'closed'; tput(t, r) end
  end
  set('nwait', 0)
  set('pre_left', 0)
  set('pre_closed', 1)
  set('cursor', M.len)
end

-- Every entry point calls this first. The draw needs the core's shuffle, so the script asks
-- its caller to draw (open.lua) and then to call again.
local function phase()
  if M.drawn ~= 1 and NOW >= M.opens_at and M.closed ~= 1 then
    return redis.error_reply('needs_draw')
  end
  if M.closed ~= 1 and M.closes_at > 0 and NOW >= M.closes_at then
    close_room()
    -- Saved at once: the caller may go on to return an error reply (a join to a closed room),
    -- and the tickets closed above are written already.
    save_meta()
  end
  return nil
end

local function expire_session(t, r)
  if r.state == 'admitted' and NOW >= r.expires then
    r.state = 'expired'
    add('active', -1)
    add('c_expired', 1)
    redis.call('ZREM', SESS, t)
    return true
  end
  return false
end

-- The admitted visitor is done (completed, or booked all they may): the session's capacity goes
-- to the next one, and every process learns that the admission ended (cache.py).
local function complete_session(t, r)
  r.state = 'completed'
  add('active', -1)
  add('c_completed', 1)
  redis.call('ZREM', SESS, t)
  tput(t, r)
  redis.call('RPUSH', CHANGES, t .. ':-1:' .. int(r.admitted))
end
