-- ARGV: now, ticket id. Ends an admitted session whose pass ran out when its status is asked,
-- as the core's status does, so that its capacity is free before the next tick. Returns the
-- packed record.
local err = load_meta()
if err then return err end
local t = ARGV[2]
local r = tget(t)
if not r then return redis.error_reply('unknown_ticket') end
if expire_session(t, r) then
  tput(t, r)
  save_meta()
end
return packed(t, r)
