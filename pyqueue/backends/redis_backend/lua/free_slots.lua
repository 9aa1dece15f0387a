-- ARGV: now, group ('' for all), offset, limit, the counts version the caller has ('' for
-- none). Claimable slots (free, or held with the hold lapsed) in the core's order: groups by
-- name, then (starts, id); a page of the free index, so a listing costs the slots skipped and
-- listed, not every slot of the room.
-- Returns {flat (id, group, starts) triples, counts}: the counts (see counts_reply) come along
-- because a listing is shown with them.
if redis.call('EXISTS', META) == 0 then return redis.error_reply('unknown_room') end
ensure_free_index()
local ids = claimable_page(ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
local out = {}
if #ids > 0 then
  for i, info in ipairs(redis.call('HMGET', SLOTINFO, unpack(ids))) do
    local bar = string.find(info, '|', 1, true)
    out[#out + 1] = ids[i]
    out[#out + 1] = string.sub(info, bar + 1)
    out[#out + 1] = string.sub(info, 1, bar - 1)
  end
end
return { out, counts_reply(ARGV[5]) }
