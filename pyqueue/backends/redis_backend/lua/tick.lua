-- The admission tick. ARGV: now. Any number of processes may call it at once: the allowance is
-- rate x time since the last accrual (kept in meta), and each call runs atomically, so
-- concurrent ticks share the same allowance instead of adding to it.
-- ARGV: now, the latest release window due (0 for none), the caller's index in the changes list,
-- then heartbeats.
-- Returns {admitted, abandoned, expired, holds ended, released, offers made, snapshot}: the
-- snapshot refreshes the caller's cache without another round trip.
local err = load_meta() or phase()
if err then return err end
local due, changes_from = tonumber(ARGV[2]), tonumber(ARGV[3])
-- The heartbeats the caller saw since its last tick (ticket, micros pairs): written here, so a
-- process's heartbeats cost no command of their own.
write_heartbeats(4)

local function finish(admitted, abandoned, expired)
  local ended, released, made = sweep_slots(due)
  save_meta()
  return { admitted, abandoned, expired, ended, released, made, snapshot(changes_from) }
end

if NOW < M.opens_at or M.closed == 1 then return finish(0, 0, 0) end

local expired = 0
for _, t in ipairs(redis.call('ZRANGEBYSCORE', SESS, '-inf', int(NOW))) do
  local r = tget(t)
  if expire_session(t, r) then
    expired = expired + 1
    tput(t, r)
  else
    redis.call('ZREM', SESS, t)  -- a session that ended otherwise
  end
end

local elapsed = NOW - math.max(M.last_tick, M.opens_at)
set('last_tick', math.max(M.last_tick, NOW))
accrue()
if M.paused == 1 then return finish(0, 0, expired) end

local backed_up = M.nwait > 0
local budget = math.min(math.max(M.max_active - M.active, 0), math.floor(math.max(M.allowance, 0)))
local start, cursor = M.cursor, M.cursor
local admitted_before = M.c_admitted
local admitted, abandoned = 0, 0
while cursor < M.len do
  local t = redis.call('HGET', ORDER, int(cursor))
  local r = tget(t)
  if r.state ~= 'waiting' or r.pos ~= cursor then
    cursor = cursor + 1
  else
    local seen = math.max(r.seen, tonumber(redis.call('HGET', SEEN, t) or '0'))
    if NOW - seen > M.heartbeat_us then
      -- Gone quietly: skipped, and no capacity used.
      r.state = 'abandoned'
      add('nwait', -1)
      add('c_abandoned', 1)
      abandoned = abandoned + 1
      tput(t, r)
      cursor = cursor + 1
    elseif budget == 0 then
      break
    else
      admit(t, r)
      tput(t, r)
      budget = budget - 1
      admitted = admitted + 1
      cursor = cursor + 1
    end
  end
end
set('cursor', cursor)

-- The line's measurement (the core's eta::LineMeter::record, whose estimate the caller computes
-- from these counters): only intervals in which people kept waiting say how fast the line
-- moves; the first time the booking site is full what was measured before is dropped, and
-- measuring starts again when the first place frees up.
if backed_up and M.nwait > 0 and elapsed > 0 then
  if M.active >= M.max_active and M.ln_filled ~= 1 then
    set('ln_filled', 1)
    restart_line_meter()
  elseif M.ln_filled ~= 1 or (M.ln_passed or 0) > 0 or cursor > start then
    -- (While full and no place freed yet since it filled, nothing is measured.)
    local passed, admitted_now = cursor - start, M.c_admitted - admitted_before
    add('ln_passed', passed)
    add('ln_admitted', admitted_now)
    add('ln_us', elapsed)
    -- The recent stretch; once RECENT_STRETCH_US long it becomes the earlier one.
    add('lr_passed', passed)
    add('lr_admitted', admitted_now)
    add('lr_us', elapsed)
    if M.lr_us >= RECENT_STRETCH_US then
      set('le_passed', M.lr_passed)
      set('le_admitted', M.lr_admitted)
      set('le_us', M.lr_us)
      set('lr_passed', 0)
      set('lr_admitted', 0)
      set('lr_us', 0)
    end
  end
end
return finish(admitted, abandoned, expired)
