--[[
  Settles a reservation exactly once: commit (the render succeeded) or refund (the job finally
  failed or was cancelled). A reservation already settled is left alone, so retries, stalls and
  duplicate completions change nothing.

  The open reservation is the line admission wrote (admit-batch.lua): "<jobId> <cost>
  <fromAllowance> <fromGranted> <day> <scope> <userId>", a field of the job's hash and a member of
  the open-reservations set. Settling removes both and writes the settled record, which outlives
  the job (its status for a repeated request, the job's view once BullMQ removed it).

  Input:
    KEYS[1] settled reservation hash  <p>:reservation:<jobId>
    KEYS[2] open reservations zset    <p>:reservations
    KEYS[3] member hash
    KEYS[4] member ledger stream
    KEYS[5] scope spend on the reservation's day
    KEYS[6] cancel marker             <p>:cancel:<jobId>
    KEYS[7] BullMQ job hash           <p>:generate:<jobId>

    ARGV[1] mode: commit | refund
    ARGV[2] job id
    ARGV[3] now (ms)
    ARGV[4] ledger max length
    ARGV[5] seconds to keep the settled record
    ARGV[6] the open reservation line as the caller read it (it chose KEYS[3..5] from it); used
            as the reservation when the job is gone, if the line is still in the open set
    ARGV[7] reason (ledger)
    ARGV[8] who (ledger)
    ARGV[9] the job's data JSON, kept in the settled record when the job is gone ("" if unknown)
    ARGV[10] refund only: milli-credits of the cost still charged (the finished share of a clip
             cancelled part way), "0" or absent for a full refund; taken from the allowance first

  Output:
    {"missing"}                          no such reservation
    {"stale"}                            the caller read another reservation: read again
    {"settled", status}                  already committed / released
    {"cancelled", cost}                  commit refused: the member cancelled (caller refunds)
    {"committed", cost}
    {"refunded", returned, cost}         returned = credits given back (allowance of a past day lapses)
]]
local rcall = redis.call
local mode = ARGV[1]
local jobId = ARGV[2]

local settledStatus = rcall("HGET", KEYS[1], "status")
if settledStatus then return {"settled", settledStatus} end

local job = rcall("HMGET", KEYS[7], "easelReservation", "data")
local line = job[1]
local data = job[2] or ARGV[9]
local createdAt = rcall("ZSCORE", KEYS[2], ARGV[6])
if not line then
  -- The job is gone (removed by hand, or by a cancel that passes the line it read first).
  if not createdAt then return {"missing"} end
  line = ARGV[6]
end
if line ~= ARGV[6] then return {"stale"} end

local cost, fromAllowance, fromGranted, day, scope, userId =
  string.match(line, "^%S+ (%d+) (%d+) (%d+) (%d+) (%S+) (%S+)$")
if mode == "commit" and rcall("EXISTS", KEYS[6]) == 1 then
  return {"cancelled", cost}
end
local costN = tonumber(cost)
fromAllowance = tonumber(fromAllowance)
fromGranted = tonumber(fromGranted)
local dayN = tonumber(day)

-- The member's numbers, as admit-batch.lua keeps them: "<granted> <day> <allowance> <spent>
-- <reserved> <pending> <lastAt>" (milli-credits).
local MEMBER_STATE = "%d %d %d %d %d %d %d"
local granted, memberDay, credited, spent, reserved, pending, lastAt = 0, 0, 0, 0, 0, 0, 0
local state = rcall("HGET", KEYS[3], "state")
if state then
  local g, d, a, s, r, p, l = string.match(state, "^(-?%d+) (-?%d+) (-?%d+) (-?%d+) (-?%d+) (-?%d+) (-?%d+)$")
  granted, memberDay, credited, spent = tonumber(g), tonumber(d), tonumber(a), tonumber(s)
  reserved, pending, lastAt = tonumber(r), tonumber(p), tonumber(l)
end
reserved = math.max(0, reserved - costN)
pending = math.max(0, pending - 1)
local function writeState()
  rcall("HSET", KEYS[3], "state",
    string.format(MEMBER_STATE, granted, memberDay, credited, spent, reserved, pending, lastAt))
end

local function fmt(n) return string.format("%d", n) end
local function ledger(kind, amount, balanceAfter)
  return rcall("XADD", KEYS[4], "MAXLEN", "~", ARGV[4], "*", "at", ARGV[3], "kind", kind,
    "amount", fmt(amount), "balance", fmt(balanceAfter), "jobId", jobId, "by", ARGV[8],
    "reason", ARGV[7])
end

rcall("ZREM", KEYS[2], line)
if job[1] then rcall("HDEL", KEYS[7], "easelReservation") end
local function settledRecord(status)
  rcall("HSET", KEYS[1], "status", status, "cost", cost, "scope", scope, "userId", userId,
    "day", day, "createdAt", createdAt or ARGV[3], "settledAt", ARGV[3], "reason", ARGV[7])
  if data and data ~= "" then rcall("HSET", KEYS[1], "data", data) end
  rcall("EXPIRE", KEYS[1], ARGV[5])
end

if mode == "commit" then
  writeState()
  settledRecord("committed")
  ledger("commit", 0, math.max(0, credited - spent) + granted)
  return {"committed", cost}
end

-- refund: granted credits come back; allowance comes back only while its day is still the
-- member's current day (once the day has rolled over, that allowance has lapsed in the ledger).
-- A kept share stays spent, out of the allowance first (as admission spent it first).
local keep = math.max(0, math.min(costN, tonumber(ARGV[10] or "0") or 0))
local keptAllowance = math.min(fromAllowance, keep)
local keptGranted = keep - keptAllowance
local returned = fromGranted - keptGranted
granted = granted + fromGranted - keptGranted
if memberDay == dayN then
  spent = math.max(0, spent - (fromAllowance - keptAllowance))
  returned = returned + fromAllowance - keptAllowance
end
writeState()
if rcall("EXISTS", KEYS[5]) == 1 then
  rcall("DECRBY", KEYS[5], costN - keep)
end

settledRecord("released")
if keep > 0 then rcall("HSET", KEYS[1], "kept", fmt(keep)) end
if returned > 0 then
  ledger("refund", returned, math.max(0, credited - spent) + granted)
end
return {"refunded", fmt(returned), cost}
