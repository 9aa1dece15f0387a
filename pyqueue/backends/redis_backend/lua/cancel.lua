-- ARGV: now, code (normalised). The booking ends; the slot is returned. A cancelled code
-- answers with its cancellation again, changing nothing (as in the core) but writing its
-- entry again, unchanged: the repetition is then a write of its connection, so a WAIT after
-- it also covers the first cancel, made on another connection (see connection.py). Replies
-- {1, booking} when this call cancelled it, {0, booking} when it was cancelled before.
local err = load_meta()
if err then return err end
local code = ARGV[2]
local id = redis.call('HGET', CODES, code)
if not id then
  local before = cancelled_reply(code)
  if not before then return redis.error_reply('unknown_booking') end
  redis.call('HSET', CANCELLED, code, redis.call('HGET', CANCELLED, code))
  return { 0, before }
end
local s = sget(id)
if s.state ~= 'booked' or s.code ~= code then return redis.error_reply('unknown_booking') end
sput(id, 'booked', { state = 'returned', holder = -1, ['until'] = 0, code = '' })
redis.call('HDEL', CODES, code)
redis.call('HSET', CANCELLED, code, id .. '|' .. int(s.holder) .. '|' .. int(NOW))
make_offers()
return { 1, cancelled_reply(code) }
