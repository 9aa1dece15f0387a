-- ARGV: now, code (normalised). Reads a booking: {code, slot, group, starts, ticket}, and when
-- it was cancelled (micros) for a cancelled one.
if redis.call('EXISTS', META) == 0 then return redis.error_reply('unknown_room') end
local code = ARGV[2]
local id = redis.call('HGET', CODES, code)
if not id then return cancelled_reply(code) or redis.error_reply('unknown_booking') end
local s = sget(id)
if s.state ~= 'booked' or s.code ~= code then return redis.error_reply('unknown_booking') end
return booking_reply(code, id, s.holder)
