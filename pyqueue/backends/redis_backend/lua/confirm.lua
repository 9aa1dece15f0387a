-- ARGV: now, ticket, slot, a fresh booking code. Books the ticket's live hold or offer.
-- Returns {code, slot, group, starts, ticket}, or the error 'code_clash' to draw again.
local err = load_meta()
if err then return err end
local t, id, code = ARGV[2], ARGV[3], ARGV[4]
local s = sget(id)
if not s then return redis.error_reply('unknown_slot') end
if s.state == 'free' or s.state == 'returned' then return redis.error_reply('no_hold') end
if s.holder ~= tonumber(t) then return redis.error_reply('not_holder') end
if s.state == 'booked' then
  rewrite(id)
  -- As in the core, a confirmation asked for again also ends the session once the visitor's
  -- holds and bookings use the allowance up (a hold taken since counts).
  complete_if_done(t)
  save_meta()
  return booking_reply(s.code, id, t)
end
if s['until'] <= NOW then return redis.error_reply('hold_expired') end
if redis.call('HEXISTS', CODES, code) == 1 or redis.call('HEXISTS', CANCELLED, code) == 1 then
  return redis.error_reply('code_clash')
end
local was_offer = s.state == 'offered'
-- An offer does not count until booked; booking it is a claim like a hold (as in the core).
if was_offer then
  local full = make_room_for_one_more(t, id)
  if full then return full end
end
sput(id, s.state, { state = 'booked', holder = tonumber(t), ['until'] = 0, code = code })
redis.call('HSET', CODES, code, id)
own(t, id)
redis.call('HDEL', DOWNTO, id)
if was_offer then
  redis.call('HDEL', OFFERS, t)
  -- A waiting visitor who booked all they may through offers leaves the queue.
  local r = tget(t)
  if r and r.state == 'waiting' and owned_count(t, nil) >= M.limit then
    r.state = 'left'
    add('nwait', -1)
    add('c_left', 1)
    tput(t, r)
    redis.call('RPUSH', CHANGES, t .. ':' .. int(r.pos))
  end
end
complete_if_done(t)
save_meta()
return booking_reply(code, id, t)
