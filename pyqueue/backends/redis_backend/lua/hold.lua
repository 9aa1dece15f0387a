-- ARGV: now, ticket, slot. The claim: compare-and-set on the slot's word, atomically.
-- Returns {slot, group, starts, ticket, until}.
local err = load_meta()
if err then return err end
local t, id = ARGV[2], ARGV[3]
local r = tget(t)
if not r then return redis.error_reply('unknown_ticket') end
if r.state ~= 'admitted' or NOW >= r.expires then
  if r.state == 'expired' or (r.state == 'admitted' and NOW >= r.expires) then
    return redis.error_reply('token_expired')
  end
  return redis.error_reply('not_admitted')
end
local s = sget(id)
if not s then return redis.error_reply('unknown_slot') end
local group, starts = sinfo(id)
-- One's own live hold, or live waiting-list offer, is answered as it is (as in the core).
if (s.state == 'held' or s.state == 'offered') and s.holder == tonumber(t) and live(s) then
  rewrite(id)
  return { id, group, starts, t, int(s['until']) }
end
if not claimable(s) then return redis.error_reply('slot_taken ' .. id .. ' ' .. alternatives(id)) end
local full = make_room_for_one_more(t, id)
if full then return full end
local old = s.state
local hold_until = deadline(math.min(NOW + M.hold_us, r.expires))
sput(id, old, { state = 'held', holder = tonumber(t), ['until'] = hold_until, code = '' })
own(t, id)
return { id, group, starts, t, int(hold_until) }
