-- Creates a room once. ARGV: now, settings JSON, then meta field/value pairs.
-- Returns 1 when this call created it, 0 when it existed.
if redis.call('EXISTS', META) == 1 then return 0 end
redis.call('SET', P .. 'config', ARGV[2])
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', META, unpack(fields))
return 1
