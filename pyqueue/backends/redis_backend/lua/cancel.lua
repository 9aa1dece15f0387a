-- ARGV: now, code (normalised). The booking ends; the slot is returned.
local err = load_meta()
if err then return err end
local code = ARGV[2]
local id = redis.call('HGET', CODES, code)
if not id then return redis.error_reply('unknown_booking') end
local s = sget(id)
if s.state ~= 'booked' or s.code ~= code then return redis.error_reply('unknown_booking') end
sput(id, 'booked', { state = 'returned', holder = -1, ['until'] = 0, code = '' })
redis.call('HDEL', CODES, code)
make_offers()
return booking_reply(code, id, s.holder)
