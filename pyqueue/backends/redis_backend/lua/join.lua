-- ARGV: now, then (identity, label, resumed ticket id) triples, '' for none: the joins one process
-- gathered in one turn of its event loop, applied in order. A room-wide refusal (closed, not
-- open yet) is an error reply for all; per join the reply is the packed record plus whether
-- the ticket is new, or {'!unknown_ticket'}.
local err = load_meta() or phase()
if err then return err end
if M.closed == 1 then return redis.error_reply('room_closed') end
if M.pre_opens_at > 0 and NOW < M.pre_opens_at then
  return redis.error_reply('not_open_yet ' .. int(M.pre_opens_at) .. ' ' .. int(NOW))
end

-- The identity index finds a ticket by identity; a label is only kept beside a new ticket.
local function join(identity, label, resume)
  local existing = nil
  if identity ~= '' then existing = redis.call('HGET', IDS, identity) end
  if not existing and resume ~= '' then
    if tonumber(resume) < M.seq then existing = resume else return { '!unknown_ticket' } end
  end
  if existing then
    local r = tget(existing)
    r.seen = math.max(r.seen, NOW)
    local s = r.state
    if s == 'abandoned' or s == 'left' or s == 'expired' then
      if M.drawn ~= 1 then
        -- Back into the pre-queue under its old entry: the draw makes its place meaningless.
        r.state = 'prequeue'
        add('pre_left', -1)
      else
        enqueue(existing, r)
      end
      redis.call('RPUSH', CHANGES, existing .. ':-1')
    end
    tput(existing, r)
    local out = packed(existing, r)
    out[#out + 1] = '0'
    return out
  end
  local t = int(M.seq)
  set('seq', M.seq + 1)
  local r = { state = 'prequeue', pos = -1, joined = NOW, seen = NOW, admitted = 0, expires = 0, ahead0 = 0 }
  if identity ~= '' then redis.call('HSET', IDS, identity, t) end
  if label ~= '' then redis.call('HSET', LABELS, t, label) end
  add('c_joined', 1)
  if M.drawn == 1 then enqueue(t, r) else redis.call('RPUSH', PRE, t) end
  tput(t, r)
  local out = packed(t, r)
  out[#out + 1] = '1'
  return out
end

local replies = {}
for i = 2, #ARGV, 3 do replies[#replies + 1] = join(ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
save_meta()
return replies
