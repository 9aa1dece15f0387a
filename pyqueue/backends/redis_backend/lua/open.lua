-- The draw at opening, written once. ARGV: now, number of pre-queue entries the caller drew
-- for, the order as comma-separated join indices (from the core's draw_order), seed, mode.
-- Returns 'drawn' when another process was first, 'retry' when a join came in between.
local err = load_meta()
if err then return err end
if M.drawn == 1 then return 'drawn' end
if NOW < M.opens_at then return 'early' end
local joined = redis.call('LRANGE', PRE, 0, -1)
if #joined ~= tonumber(ARGV[2]) then return 'retry' end
local pos, ahead = 0, 0
for i in string.gmatch(ARGV[3], '%d+') do
  local t = joined[tonumber(i) + 1]
  local r = tget(t)
  r.pos = pos
  redis.call('HSET', ORDER, int(pos), t)
  if r.state == 'prequeue' then
    -- Pre-queue pages poll slowly: everyone gets a full heartbeat period from opening.
    r.seen = math.max(r.seen, NOW)
    r.state = 'waiting'
    r.ahead0 = ahead
    ahead = ahead + 1
  else
    redis.call('RPUSH', CHANGES, t .. ':' .. int(pos))
  end
  tput(t, r)
  pos = pos + 1
end
set('len', pos)
set('nwait', ahead)
set('pre_left', 0)
set('drawn', 1)
redis.call('HSET', DRAW, 'seed', ARGV[4], 'at', int(NOW), 'mode', ARGV[5], 'order', ARGV[3])
save_meta()
return 'ok'
