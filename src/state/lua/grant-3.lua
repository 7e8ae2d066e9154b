--[[
  Grants credits to a member (they never expire) and appends the grant to the ledger.

  Input:
    KEYS[1] member hash
    KEYS[2] member ledger stream
    KEYS[3] scope members set (members who have used easel in the scope)

    ARGV[1] user id
    ARGV[2] now (ms)
    ARGV[3] amount (milli-credits, > 0)
    ARGV[4] ledger max length
    ARGV[5] who granted (admin user id)
    ARGV[6] reason

  Output:
    {"unknown"}                   the member has never used easel in this scope
    {"granted", granted, balance} milli-credits after the grant
]]
local rcall = redis.call
if rcall("SISMEMBER", KEYS[3], ARGV[1]) == 0 then return {"unknown"} end

-- The member's numbers, as admit-batch.lua keeps them: "<granted> <day> <allowance> <spent>
-- <reserved> <pending> <lastAt>" (milli-credits).
local MEMBER_STATE = "%d %d %d %d %d %d %d"
local granted, day, allowance, spent, reserved, pending, lastAt = 0, 0, 0, 0, 0, 0, 0
local state = rcall("HGET", KEYS[1], "state")
if state then
  local g, d, a, s, r, p, l = string.match(state, "^(-?%d+) (-?%d+) (-?%d+) (-?%d+) (-?%d+) (-?%d+) (-?%d+)$")
  granted, day, allowance, spent = tonumber(g), tonumber(d), tonumber(a), tonumber(s)
  reserved, pending, lastAt = tonumber(r), tonumber(p), tonumber(l)
end
granted = granted + tonumber(ARGV[3])
local balance = math.max(0, allowance - spent) + granted
rcall("HSET", KEYS[1], "state",
  string.format(MEMBER_STATE, granted, day, allowance, spent, reserved, pending, lastAt))
rcall("XADD", KEYS[2], "MAXLEN", "~", ARGV[4], "*", "at", ARGV[2], "kind", "grant",
  "amount", ARGV[3], "balance", string.format("%d", balance), "jobId", "", "by", ARGV[5],
  "reason", ARGV[6])
return {"granted", string.format("%d", granted), string.format("%d", balance)}
