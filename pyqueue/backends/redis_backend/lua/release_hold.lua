-- ARGV: now, ticket, slot. Gives one's own hold (free again) or offer (returned) back.
local err = load_meta()
if err then return err end
local t, id = ARGV[2], ARGV[3]
local s = sget(id)
if not s then return redis.error_reply('unknown_slot') end
if s.state == 'held' or s.state == 'offered' then
  if s.holder ~= tonumber(t) then return redis.error_reply('not_holder') end
  local to = (s.state == 'offered') and 'returned' or 'free'
  sput(id, s.state, { state = to, holder = -1, ['until'] = 0, code = '' })
  if to == 'returned' then
    redis.call('HDEL', OFFERS, t)
    make_offers()
  end
  return to
end
if s.state == 'booked' and s.holder ~= tonumber(t) then return redis.error_reply('not_holder') end
return redis.error_reply('no_hold')
