-- ARGV: now, ticket id. Gives up the place or the session; idempotent. Returns the state before.
local err = load_meta() or phase()
if err then return err end
local t = ARGV[2]
local r = tget(t)
if not r then return redis.error_reply('unknown_ticket') end
local before = r.state
local gave_up = -1
-- An ended session names its admission, so that every process refuses its pass (cache.py).
local ended = ''
if before == 'prequeue' then
  add('pre_left', 1)
elseif before == 'waiting' then
  add('nwait', -1)
  gave_up = r.pos
elseif before == 'admitted' then
  add('active', -1)
  redis.call('ZREM', SESS, t)
  ended = ':' .. int(r.admitted)
else
  return before
end
r.state = 'left'
add('c_left', 1)
tput(t, r)
redis.call('RPUSH', CHANGES, t .. ':' .. int(gave_up) .. ended)
save_meta()
return before
