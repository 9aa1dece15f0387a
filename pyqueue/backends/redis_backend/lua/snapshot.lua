-- ARGV: now, the caller's index in the changes list. Reads what a process caches of the room
-- (see snapshot in slotlib.lua); changes nothing.
if redis.call('EXISTS', META) == 0 then return redis.error_reply('unknown_room') end
return snapshot(tonumber(ARGV[2]))
