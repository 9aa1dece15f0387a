-- ARGV: now, actor, mode. Deletes the room's personal data (see the core's room/personal_data.rs):
-- the identity index, the labels and the booking codes, live and cancelled (booked slots stay
-- booked, with no code).
-- mode 'now': the operator's call, refused unless the room has closed, always audited.
-- mode 'due': the retention ran out (the caller judged that by the core's rule); audited only
-- when there was something to delete. Returns {identities, labels, booking codes}.
local err = load_meta() or phase()
if err then return err end
local actor, mode = ARGV[2], ARGV[3]
if M.closed ~= 1 then
  if mode == 'now' then return redis.error_reply('room_not_closed') end
  return { 0, 0, 0 }
end
local identities, labels = redis.call('HLEN', IDS), redis.call('HLEN', LABELS)
local codes = redis.call('HGETALL', CODES)
for i = 1, #codes, 2 do
  local id = codes[i + 1]
  local s = sget(id)
  if s and s.state == 'booked' then
    s.code = ''
    sput(id, 'booked', s)
  end
end
local codes_count = #codes / 2 + redis.call('HLEN', CANCELLED)
redis.call('DEL', IDS, LABELS, CODES, CANCELLED)
local n = identities + labels + codes_count
if mode == 'now' or n > 0 then
  -- The reason as the core words it (Forgotten::audit_reason): counts, never the values.
  audit('forget_personal_data', actor, n, string.format(
    'personal data deleted: %d identities, %d labels, %d booking codes', identities, labels, codes_count))
end
save_meta()
return { identities, labels, codes_count }
