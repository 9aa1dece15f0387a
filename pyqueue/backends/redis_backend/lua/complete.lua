-- ARGV: now, ticket id. Ends an admitted session, freeing its capacity.
local err = load_meta()
if err then return err end
local t = ARGV[2]
local r = tget(t)
if not r then return redis.error_reply('unknown_ticket') end
if expire_session(t, r) then tput(t, r) end
local result
if r.state == 'admitted' then
  complete_session(t, r)
  result = 'ok'
elseif r.state == 'completed' then
  result = 'ok'
elseif r.state == 'expired' then
  result = redis.error_reply('token_expired')
else
  result = redis.error_reply('not_admitted')
end
save_meta()
return result
