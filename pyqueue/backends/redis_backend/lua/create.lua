-- Creates a room once. ARGV: now, settings JSON, the identity key (see keys.py), then meta
-- field/value pairs. Returns 1 when this call created it, 0 when it existed.
if redis.call('EXISTS', META) == 1 then return 0 end
redis.call('SET', P .. 'config', ARGV[2])
redis.call('SET', P .. 'idkey', ARGV[3])
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', META, unpack(fields))
return 1
