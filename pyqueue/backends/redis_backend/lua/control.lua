-- ARGV: now, action (pause | resume | queue_all_on | queue_all_off | config), actor, then for
-- config: the settings JSON followed by meta field/value pairs. Operator actions, audited.
local err = load_meta()
if err then return err end
local action, actor = ARGV[2], ARGV[3]
if action == 'pause' then
  set('paused', 1)
elseif action == 'resume' then
  accrue()
  set('paused', 0)
elseif action == 'queue_all_on' then
  set('queue_all', 1)
elseif action == 'queue_all_off' then
  set('queue_all', 0)
elseif action == 'config' then
  accrue()
  local old_rate = M.rate
  for i = 5, #ARGV, 2 do set(ARGV[i], tonumber(ARGV[i + 1])) end
  -- A new rate restarts the line's measurement (the core's LineMeter::restart).
  if M.rate ~= old_rate then
    restart_line_meter()
  end
  -- Before the opening nothing has accrued: the allowance starts at the (maybe moved) opening.
  if M.drawn ~= 1 then
    set('accrued_until', M.opens_at)
    set('last_tick', M.opens_at)
  end
  redis.call('SET', P .. 'config', ARGV[4])
end
save_meta()
audit(action, actor, 0, nil)
return 'ok'
