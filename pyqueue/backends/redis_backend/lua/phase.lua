-- ARGV: now. Opens (via the caller's draw) or closes the room when their time has come.
local err = load_meta() or phase()
if err then return err end
save_meta()
return 'ok'
