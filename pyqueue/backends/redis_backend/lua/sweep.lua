-- ARGV: now, the latest release window due (micros, 0 for none). The inventory's share of a
-- tick: lapsed holds become free, lapsed offers returned; a due window releases; returned
-- slots are offered on. Returns {holds and offers ended, released, offers made}.
local err = load_meta()
if err then return err end
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
local released = release_due_window(tonumber(ARGV[2]), 'schedule') or 0
local made = 0
if lapsed_offers or redis.call('ZCARD', RETURNED) > 0 then made = make_offers() end
save_meta()
return { n, released, made }
