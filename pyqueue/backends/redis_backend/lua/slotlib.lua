-- Slot helpers, prepended after common.lua. A slot is "state|holder|until|code" in SLOTS
-- (holder -1 and until 0 when unused), its group and start "starts|group" in SLOTINFO.
local AVAIL, GROUPS, DEADLINES = P .. 'avail', P .. 'groups', P .. 'deadlines'
-- Waiting-list state: returned slots (scored by start), open offers (ticket -> "slot|until")
-- and the queue position each returned slot was last offered at.
local RETURNED, OFFERS, DOWNTO = P .. 'returned', P .. 'offers', P .. 'offerdown'
-- The free-slot index: one zset of equal scores, so ordered by its members' bytes, with a
-- member "group NUL start id" per free slot (start in fixed width): the core's listing order
-- (groups by name, then start, then id), one group being one range of it.
local FREE = P .. 'free'

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
-- A slot's member in the free index. The start is 17 digits (micros until the year 5138); a
-- start before 1970 sorts first, by '-' and the digits of its distance from -10^17.
local function free_member(group, starts, id)
  local x = tonumber(starts)
  local key = x >= 0 and string.format('%017d', x) or ('-' .. string.format('%017d', 1e17 + x))
  return group .. '\0' .. key .. id
end
-- The slot id of a free-index member.
local function member_id(member)
  local nul = string.find(member, '\0', 1, true)
  local width = string.sub(member, nul + 1, nul + 1) == '-' and 18 or 17
  return string.sub(member, nul + 1 + width)
end
-- The range of the free index that is one group's ('' for all).
local function group_range(group)
  if group == '' then return '-', '+' end
  return '[' .. group .. '\0', '(' .. group .. '\1'
end

-- Writes a slot's new word and moves it between its group's counts and free index. Every
-- change of a slot's state goes through here, so the index is exactly the free slots.
local function sput(id, old_state, s)
  redis.call('HSET', SLOTS, id, table.concat({ s.state, int(s.holder), int(s['until']), s.code }, '|'))
  if old_state ~= s.state then
    local group, starts = sinfo(id)
    redis.call('HINCRBY', AVAIL, old_state .. ':' .. group, -1)
    redis.call('HINCRBY', AVAIL, s.state .. ':' .. group, 1)
    -- Processes re-read the counts only when this version moved (see counts_reply).
    redis.call('HINCRBY', META, 'inv_ver', 1)
    if old_state == 'free' then
      redis.call('ZREM', FREE, free_member(group, starts, id))
    elseif s.state == 'free' then
      redis.call('ZADD', FREE, 0, free_member(group, starts, id))
    end
    if s.state == 'returned' then
      redis.call('ZADD', RETURNED, starts, id)
    elseif old_state == 'returned' then
      redis.call('ZREM', RETURNED, id)
    end
  end
  if s.state == 'held' or s.state == 'offered' then
    redis.call('ZADD', DEADLINES, int(s['until']), id)
  else
    redis.call('ZREM', DEADLINES, id)
  end
end
-- Writes a slot's word again, unchanged, when a script repeats an earlier answer (a hold or a
-- booking asked for twice): the repetition is then a write of its connection, so a WAIT after
-- it also covers the first write, made on another connection (see connection.py).
local function rewrite(id)
  redis.call('HSET', SLOTS, id, redis.call('HGET', SLOTS, id))
end
-- A hold's or offer's deadline as the core stores it: whole seconds after the room's deadline
-- epoch, rounded up, so that it never ends before the moment it was granted for. (Rooms made
-- before the epoch was recorded count from the Unix epoch.)
local function deadline(us)
  local epoch = M.deadline_epoch or 0
  return epoch + math.ceil((us - epoch) / 1e6) * 1e6
end
local function live(s) return (s.state == 'held' or s.state == 'offered') and s['until'] > NOW end
-- As in the core: a free slot, or a hold that lapsed and was not swept yet. A lapsed offer
-- is not: the sweep returns it to the waiting list.
local function claimable(s)
  return s.state == 'free' or (s.state == 'held' and s['until'] <= NOW)
end

-- Holds and bookings of a ticket that count against its limit, as in the core: a lapsed hold
-- counts until it is ended (swept, taken over or ended by a claim at the limit); an offer
-- counts only once booked.
local function owned_count(t, except)
  local list = redis.call('HGET', OWNED, t)
  local n = 0
  if not list then return 0 end
  for id in string.gmatch(list, '[^,]+') do
    if id ~= except then
      local s = sget(id)
      if s and s.holder == tonumber(t) and (s.state == 'held' or s.state == 'booked') then
        n = n + 1
      end
    end
  end
  return n
end
-- Before a claim (a hold, or booking an offer): at the limit, the ticket's own lapsed holds
-- end first, as in the core; if that is not enough, the claim is refused (they stay ended).
-- Returns the error reply, or nil when there is room for one more.
local function make_room_for_one_more(t, except)
  if owned_count(t, except) < M.limit then return nil end
  for id in string.gmatch(redis.call('HGET', OWNED, t) or '', '[^,]+') do
    local s = sget(id)
    if id ~= except and s and s.holder == tonumber(t) and s.state == 'held' and not live(s) then
      sput(id, 'held', { state = 'free', holder = -1, ['until'] = 0, code = '' })
    end
  end
  if owned_count(t, except) < M.limit then return nil end
  return redis.error_reply('limit_reached ' .. int(M.limit))
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

-- Byte order of two strings, as the index orders members (Lua's '<' follows the locale).
local function bytes_less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- Rooms whose slots were loaded before the free index existed get it built once, from the
-- slots' words (the index is derived state; the words are the truth).
local function ensure_free_index()
  if redis.call('HGET', META, 'free_index') == '1' then return end
  redis.call('DEL', FREE)
  local words = redis.call('HGETALL', SLOTS)
  for i = 1, #words, 2 do
    if string.sub(words[i + 1], 1, 5) == 'free|' then
      local group, starts = sinfo(words[i])
      redis.call('ZADD', FREE, 0, free_member(group, starts, words[i]))
    end
  end
  redis.call('HSET', META, 'free_index', '1')
end

-- Holds of a group ('' for all) that lapsed but were not swept yet, claimable like free
-- slots: their index members, in order. Ticks sweep them, so there are few.
local function lapsed_holds(wanted)
  local found = {}
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', DEADLINES, '-inf', int(NOW))) do
    local s = sget(id)
    if s and s.state == 'held' and s['until'] <= NOW then
      local group, starts = sinfo(id)
      if wanted == '' or group == wanted then found[#found + 1] = free_member(group, starts, id) end
    end
  end
  table.sort(found, bytes_less)
  return found
end

-- Claimable slots of a group ('' for all) in listing order, from index skip (0-based), at
-- most n, as slot ids: a page of the free index, merged with the lapsed holds if any.
local function claimable_page(group, skip, n)
  if n <= 0 then return {} end
  local lo, hi = group_range(group)
  local lapsed = lapsed_holds(group)
  local members
  if #lapsed == 0 then
    members = redis.call('ZRANGEBYLEX', FREE, lo, hi, 'LIMIT', skip, n)
  else
    local free = redis.call('ZRANGEBYLEX', FREE, lo, hi, 'LIMIT', 0, skip + n)
    local merged, j = {}, 1
    for _, member in ipairs(free) do
      while j <= #lapsed and bytes_less(lapsed[j], member) do
        merged[#merged + 1] = lapsed[j]
        j = j + 1
      end
      merged[#merged + 1] = member
    end
    for k = j, #lapsed do merged[#merged + 1] = lapsed[k] end
    members = {}
    for k = skip + 1, math.min(#merged, skip + n) do members[#members + 1] = merged[k] end
  end
  local ids = {}
  for i, member in ipairs(members) do ids[i] = member_id(member) end
  return ids
end

-- Up to five claimable slots of the same group, earliest first.
local function alternatives(id)
  ensure_free_index()
  local found = {}
  for _, other in ipairs(claimable_page(sinfo(id), 0, 6)) do
    if other ~= id and #found < 5 then found[#found + 1] = other end
  end
  return table.concat(found, ',')
end

local function booking_reply(code, id, holder)
  local group, starts = sinfo(id)
  return { code, id, group, starts, int(holder) }
end

-- A cancelled booking, as its code keeps answering: the reply above plus when (micros), or nil.
local function cancelled_reply(code)
  local raw = redis.call('HGET', CANCELLED, code)
  if not raw then return nil end
  local id, holder, at = string.match(raw, '^(.*)|(%-?%d+)|(%d+)$')
  local reply = booking_reply(code, id, tonumber(holder))
  reply[#reply + 1] = at
  return reply
end

-- A ticket that has booked all it may is done: its session's capacity goes to the next one.
local function complete_if_done(t)
  local r = tget(t)
  if r and r.state == 'admitted' and owned_count(t, nil) >= M.limit then
    complete_session(t, r)
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
      local offer_until = deadline(NOW + M.offer_us)
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

-- Writes heartbeats (ticket, micros pairs from ARGV index first on) in few commands.
local function write_heartbeats(first)
  local batch = {}
  for i = first, #ARGV do
    batch[#batch + 1] = ARGV[i]
    if #batch >= 1000 then
      redis.call('HSET', SEEN, unpack(batch))
      batch = {}
    end
  end
  if #batch > 0 then redis.call('HSET', SEEN, unpack(batch)) end
end

-- What a process caches of the room (see cache.py), read in the same script that changed it:
-- the meta hash as one "field\nvalue\n…" string (one reply element, cheap to parse; no
-- value has a newline), the changes from the caller's index, the pre-queue's length and the
-- open offers. The slot counts are read apart (counts.lua), when their version moved.
local function snapshot(changes_from)
  return { table.concat(redis.call('HGETALL', META), '\n'),
           redis.call('LRANGE', CHANGES, changes_from, -1), redis.call('LLEN', PRE),
           redis.call('HGETALL', OFFERS) }
end

-- The slot counts with their version (the meta field inv_ver, moved by every change of a
-- count): {version, "group NUL free NUL held NUL offered NUL booked NUL returned NUL …"}, or
-- {version, false} when the caller has that version already. Grouped here and sent as one
-- string, far cheaper for the caller to take in than a reply element per field (group names
-- have no NUL).
local function counts_reply(known_version)
  local version = redis.call('HGET', META, 'inv_ver') or '0'
  if version == known_version then return { version, false } end
  local column = { free = 2, held = 3, offered = 4, booked = 5, returned = 6 }
  local rows, row_of = {}, {}
  local raw = redis.call('HGETALL', AVAIL)
  for i = 1, #raw, 2 do
    local colon = string.find(raw[i], ':', 1, true)
    local group = string.sub(raw[i], colon + 1)
    local row = row_of[group]
    if not row then
      row = { group, '0', '0', '0', '0', '0' }
      row_of[group] = row
      rows[#rows + 1] = row
    end
    local k = column[string.sub(raw[i], 1, colon - 1)]
    if k then row[k] = raw[i + 1] end
  end
  for i, row in ipairs(rows) do rows[i] = table.concat(row, '\0') end
  return { version, table.concat(rows, '\0') }
end
