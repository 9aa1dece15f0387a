-- ARGV: now, actor, reason ('' for none), override (0/1), the latest window due (0 for none).
-- A due window releases as scheduled; otherwise only the override with a reason. Audited,
-- refusals before the window too.
local err = load_meta()
if err then return err end
local actor, reason = ARGV[2], ARGV[3]
local released = release_due_window(tonumber(ARGV[5]), actor)
if released then save_meta(); return released end
if ARGV[4] ~= '1' then
  -- Refused, and audited like every release (the refusal's entry stays: an error reply
  -- undoes nothing the script wrote).
  audit('release_refused', actor, 0, reason ~= '' and reason or nil)
  return redis.error_reply('release_refused')
end
if reason == '' then return redis.error_reply('invalid_argument') end
local n = release_returned()
audit('release_override', actor, n, reason)
return n
