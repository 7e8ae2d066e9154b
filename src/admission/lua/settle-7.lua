--[[
  Settles a reservation exactly once: commit (the render succeeded) or refund (the job finally
  failed or was cancelled). A reservation already settled is left alone, so retries, stalls and
  duplicate completions change nothing.

  Input:
    KEYS[1] reservation hash          <p>:reservation:<jobId>
    KEYS[2] open reservations zset    <p>:reservations
    KEYS[3] member hash
    KEYS[4] member pending jobs zset
    KEYS[5] member ledger stream
    KEYS[6] scope spend on the reservation's day
    KEYS[7] cancel marker             <p>:cancel:<jobId>

    ARGV[1] mode: commit | refund
    ARGV[2] job id
    ARGV[3] now (ms)
    ARGV[4] ledger max length
    ARGV[5] seconds to keep a settled reservation (job status after the job is gone)
    ARGV[6] the reservation's day as the caller read it (guards the key in KEYS[6])
    ARGV[7] reason (ledger)
    ARGV[8] who (ledger)

  Output:
    {"missing"}                          no such reservation
    {"stale"}                            the caller read another day: read again
    {"settled", status}                  already committed / released
    {"cancelled", cost}                  commit refused: the member cancelled (caller refunds)
    {"committed", cost}
    {"refunded", returned, cost}         returned = credits given back (allowance of a past day lapses)
]]
local rcall = redis.call
local mode = ARGV[1]

local r = rcall("HMGET", KEYS[1], "status", "cost", "fromAllowance", "fromGranted", "day")
if not r[1] then return {"missing"} end
if r[1] ~= "reserved" then return {"settled", r[1]} end
if r[5] ~= ARGV[6] then return {"stale"} end
if mode == "commit" and rcall("EXISTS", KEYS[7]) == 1 then
  return {"cancelled", r[2]}
end

local cost = tonumber(r[2])
local fromAllowance = tonumber(r[3])
local fromGranted = tonumber(r[4])
local day = tonumber(r[5])

local m = rcall("HMGET", KEYS[3], "granted", "day", "allowance", "spent", "reserved")
local granted = tonumber(m[1]) or 0
local memberDay = tonumber(m[2])
local credited = tonumber(m[3]) or 0
local spent = tonumber(m[4]) or 0
local reserved = math.max(0, (tonumber(m[5]) or 0) - cost)

local function fmt(n) return string.format("%d", n) end
local function ledger(kind, amount, balanceAfter)
  return rcall("XADD", KEYS[5], "MAXLEN", "~", ARGV[4], "*", "at", ARGV[3], "kind", kind,
    "amount", fmt(amount), "balance", fmt(balanceAfter), "jobId", ARGV[2], "by", ARGV[8],
    "reason", ARGV[7])
end

rcall("ZREM", KEYS[2], ARGV[2])
rcall("ZREM", KEYS[4], ARGV[2])

if mode == "commit" then
  rcall("HSET", KEYS[3], "reserved", fmt(reserved))
  rcall("HSET", KEYS[1], "status", "committed", "settledAt", ARGV[3])
  rcall("EXPIRE", KEYS[1], ARGV[5])
  ledger("commit", 0, math.max(0, credited - spent) + granted)
  return {"committed", r[2]}
end

-- refund: granted credits come back; allowance comes back only while its day is still the
-- member's current day (once the day has rolled over, that allowance has lapsed in the ledger).
local returned = fromGranted
granted = granted + fromGranted
if memberDay == day then
  spent = math.max(0, spent - fromAllowance)
  returned = returned + fromAllowance
end
rcall("HSET", KEYS[3], "granted", fmt(granted), "spent", fmt(spent), "reserved", fmt(reserved))
if rcall("EXISTS", KEYS[6]) == 1 then
  rcall("DECRBY", KEYS[6], cost)
end

rcall("HSET", KEYS[1], "status", "released", "settledAt", ARGV[3], "reason", ARGV[7])
rcall("EXPIRE", KEYS[1], ARGV[5])
if returned > 0 then
  ledger("refund", returned, math.max(0, credited - spent) + granted)
end
return {"refunded", fmt(returned), r[2]}
