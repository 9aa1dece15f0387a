-- ARGV: now, actor, then (id, group, starts micros) triples. All or nothing.
local err = load_meta()
if err then return err end
for i = 3, #ARGV, 3 do
  if redis.call('HEXISTS', SLOTS, ARGV[i]) == 1 then return redis.error_reply('duplicate_slot ' .. ARGV[i]) end
end
ensure_free_index()
local n = 0
for i = 3, #ARGV, 3 do
  local id, group, starts = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  redis.call('HSET', SLOTS, id, 'free|-1|0|')
  redis.call('HSET', SLOTINFO, id, starts .. '|' .. group)
  if not redis.call('ZSCORE', GROUPS, group) then
    redis.call('ZADD', GROUPS, redis.call('ZCARD', GROUPS), group)
  end
  redis.call('ZADD', FREE, 0, free_member(group, starts, id))
  redis.call('HINCRBY', AVAIL, 'free:' .. group, 1)
  n = n + 1
end
redis.call('HINCRBY', META, 'inv_ver', 1)
audit('load_slots', ARGV[2], n, nil)
return n
