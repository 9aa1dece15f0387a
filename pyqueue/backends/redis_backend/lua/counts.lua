-- ARGV: now, the counts version the caller has ('' for none). The slot counts: see
-- counts_reply in slotlib.lua.
if redis.call('EXISTS', META) == 0 then return redis.error_reply('unknown_room') end
return counts_reply(ARGV[2])
