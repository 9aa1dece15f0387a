-- Slot helpers, prepended after common.lua. A slot is "state|holder|until|code" in SLOTS
-- (holder -1 and until 0 when unused), its group and start "starts|group" in SLOTINFO.
local AVAIL, GROUPS, DEADLINES = P .. 'avail', P .. 'groups', P .. 'deadlines'
-- Waiting-list state: returned slots (scored by start), open offers (ticket -> "slot|until")
-- and the queue position each returned slot was last offered at.
local RETURNED, OFFERS, DOWNTO = P .. 'returned', P .. 'offers', P .. 'offerdown'

local function split(s)
  local f = {}
  for v in string.gmatch(s .. '|', '([^|]*)|') do f[#f + 1] = v end
  return f
end
local function sget(id)
  local raw = redis.call('HGET', SLOTS, id)
  if not raw then return nil end
  local f = split(raw)
  return { state = f[1], holder = tonumber(f[2]), ['until'] = tonumber(f[3]), code = f[4] }
end
local function sinfo(id)
  local raw = redis.call('HGET', SLOTINFO, id)
  local bar = string.find(raw, '|', 1, true)
  return string.sub(raw, bar + 1), string.sub(raw, 1, bar - 1)
end
-- Writes a slot's new word and moves its group's count from the old state to the new one.
local function sput(id, old_state, s)
  redis.call('HSET', SLOTS, id, table.concat({ s.state, int(s.holder), int(s['until']), s.code }, '|'))
  if old_state ~= s.state then
    local group = sinfo(id)
    redis.call('HINCRBY', AVAIL, old_state .. ':' .. group, -1)
    redis.call('HINCRBY', AVAIL, s.state .. ':' .. group, 1)
  end
  if s.state == 'held' or s.state == 'offered' then
    redis.call('ZADD', DEADLINES, int(s['until']), id)
  else
    redis.call('ZREM', DEADLINES, id)
  end
  if s.state == 'returned' then
    local _, starts = sinfo(id)
    redis.call('ZADD', RETURNED, starts, id)
  elseif old_state == 'returned' then
    redis.call('ZREM', RETURNED, id)
  end
end
local function live(s) return (s.state == 'held' or s.state == 'offered') and s['until'] > NOW end
local function claimable(s)
  return s.state == 'free' or ((s.state == 'held' or s.state == 'offered') and s['until'] <= NOW)
end

-- Holds and bookings of a ticket that count against its limit.
local function owned_count(t, except)
  local list = redis.call('HGET', OWNED, t)
  local n = 0
  if not list then return 0 end
  for id in string.gmatch(list, '[^,]+') do
    if id ~= except then
      local s = sget(id)
      if s and s.holder == tonumber(t) and (live(s) or s.state == 'booked') then n = n + 1 end
    end
  end
  return n
end
local function own(t, id)
  local list = redis.call('HGET', OWNED, t)
  if list then
    for have in string.gmatch(list, '[^,]+') do if have == id then return end end
    redis.call('HSET', OWNED, t, list .. ',' .. id)
  else
    redis.call('HSET', OWNED, t, id)
  end
end

-- Up to five claimable slots of the same group, earliest first.
local function alternatives(id)
  local group = sinfo(id)
  local found = {}
  for _, other in ipairs(redis.call('ZRANGE', P .. 'g:' .. group, 0, -1)) do
    if other ~= id and claimable(sget(other)) then
      found[#found + 1] = other
      if #found >= 5 then break end
    end
  end
  return table.concat(found, ',')
end

local function booking_reply(code, id, holder)
  local group, starts = sinfo(id)
  return { code, id, group, starts, int(holder) }
end

-- A ticket that has booked all it may is done: its session's capacity goes to the next one.
local function complete_if_done(t)
  local r = tget(t)
  if r and r.state == 'admitted' and owned_count(t, nil) >= M.limit then
    r.state = 'completed'
    add('active', -1)
    add('c_completed', 1)
    redis.call('ZREM', SESS, t)
    tput(t, r)
    redis.call('RPUSH', CHANGES, t .. ':-1')
  end
end

-- Offers every returned slot to the next waiting visitor after the one it was last offered to,
-- in queue order, one offer per visitor at a time; a slot nobody is left to take becomes free
-- (the core's make_offers). Returns how many offers were made.
local function make_offers()
  if M.waitlist ~= 1 then return 0 end
  local made, freed = 0, 0
  for _, id in ipairs(redis.call('ZRANGE', RETURNED, 0, -1)) do
    local down = tonumber(redis.call('HGET', DOWNTO, id) or '-1')
    local found, who = nil, nil
    for pos = math.max(down + 1, M.cursor), M.len - 1 do
      local t = redis.call('HGET', ORDER, int(pos))
      local r = tget(t)
      if r.state == 'waiting' and r.pos == pos then
        local seen = math.max(r.seen, tonumber(redis.call('HGET', SEEN, t) or '0'))
        if NOW - seen <= M.heartbeat_us and redis.call('HEXISTS', OFFERS, t) == 0 then
          found, who = pos, t
          break
        end
      end
    end
    if found then
      local offer_until = NOW + M.offer_us
      sput(id, 'returned', { state = 'offered', holder = tonumber(who), ['until'] = offer_until, code = '' })
      redis.call('HSET', DOWNTO, id, int(found))
      redis.call('HSET', OFFERS, who, id .. '|' .. int(offer_until))
      made = made + 1
    else
      sput(id, 'returned', { state = 'free', holder = -1, ['until'] = 0, code = '' })
      redis.call('HDEL', DOWNTO, id)
      freed = freed + 1
    end
  end
  if freed > 0 then audit('release_no_waitlist', 'schedule', freed, nil) end
  return made
end

-- Every returned slot becomes free (a release window or the operator's override).
local function release_returned()
  local n = 0
  for _, id in ipairs(redis.call('ZRANGE', RETURNED, 0, -1)) do
    sput(id, 'returned', { state = 'free', holder = -1, ['until'] = 0, code = '' })
    redis.call('HDEL', DOWNTO, id)
    n = n + 1
  end
  return n
end

-- A release window has come (ARGV due, micros; 0 for none) that was not released yet.
-- Returns the number released, or nil when no window is due.
local function release_due_window(due, actor)
  if due <= 0 or due > NOW or due <= (M.windows_done or 0) then return nil end
  set('windows_done', due)
  if M.waitlist == 1 then return 0 end
  local n = release_returned()
  audit('release', actor, n, nil)
  return n
end

-- The inventory's share of a tick: lapsed holds become free, lapsed offers returned; a due
-- release window (micros, 0 for none) releases; returned slots are offered on.
-- Returns holds and offers ended, slots released, offers made.
local function sweep_slots(due)
  local n, lapsed_offers = 0, false
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', DEADLINES, '-inf', int(NOW))) do
    local s = sget(id)
    if (s.state == 'held' or s.state == 'offered') and s['until'] <= NOW then
      local to = 'free'
      if s.state == 'offered' then
        redis.call('HDEL', OFFERS, int(s.holder))
        to = 'returned'
        lapsed_offers = true
      end
      sput(id, s.state, { state = to, holder = -1, ['until'] = 0, code = '' })
      n = n + 1
    else
      redis.call('ZREM', DEADLINES, id)
    end
  end
  local released = release_due_window(due, 'schedule') or 0
  local made = 0
  if lapsed_offers or redis.call('ZCARD', RETURNED) > 0 then made = make_offers() end
  return n, released, made
end

-- What a process caches of the room (see cache.py), read in the same script that changed it.
local function snapshot(changes_from)
  return { redis.call('HGETALL', META), redis.call('LRANGE', CHANGES, changes_from, -1),
           redis.call('LLEN', PRE), redis.call('HGETALL', OFFERS), redis.call('HGETALL', AVAIL),
           redis.call('ZRANGE', GROUPS, 0, -1) }
end
