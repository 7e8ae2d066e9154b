--[[
  Replaces a scope's stored policy only if nobody changed it since the caller read it (two admins
  editing at once: the second re-reads and applies its change on top).

  Input:
    KEYS[1] scope policy (JSON)   <p>:policy:<scope>
    ARGV[1] the JSON the caller read ("" when there was none)
    ARGV[2] the new JSON

  Output: 1 when replaced, 0 when it changed meanwhile
]]
local current = redis.call("GET", KEYS[1]) or ""
if current ~= ARGV[1] then return 0 end
redis.call("SET", KEYS[1], ARGV[2])
return 1
