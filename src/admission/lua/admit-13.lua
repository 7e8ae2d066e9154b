--[[
  Admits one generation request: every check, then the reservation, in one atomic step.
  All checks run before the first write, so a refusal changes nothing.
  Credits are in milli-credits (integers) so fractional prices add up exactly.

  Input:
    KEYS[1]  member hash               <p>:member:<scope>:<user>
    KEYS[2]  member ledger stream      <p>:ledger:<scope>:<user>
    KEYS[3]  member pending jobs zset  <p>:pending:<scope>:<user>
    KEYS[4]  duplicate-request marker  <p>:dup:<scope>:<user>:<fingerprint>
    KEYS[5]  reservation hash          <p>:reservation:<jobId>
    KEYS[6]  open reservations zset    <p>:reservations
    KEYS[7]  scope policy (JSON)       <p>:policy:<scope>
    KEYS[8]  scope suspended set       <p>:suspended:<scope>
    KEYS[9]  scope spend today         <p>:scope-spent:<scope>:<day>
    KEYS[10] scope members set         <p>:members:<scope>
    KEYS[11] generate prioritized zset <p>:generate:prioritized
    KEYS[12] generate wait list        <p>:generate:wait
    KEYS[13] generate active list      <p>:generate:active

    ARGV[1]  user id
    ARGV[2]  now (ms since epoch)
    ARGV[3]  today (UTC day number)
    ARGV[4]  cost (milli-credits)
    ARGV[5]  duplicate window (ms, 0 = off)
    ARGV[6]  default policy JSON (fields the scope's policy does not set)
    ARGV[7]  member roles JSON array
    ARGV[8]  prompt as " word word " (lower case, one space between words) for banned words
    ARGV[9]  pixels of one image (width x height)
    ARGV[10] steps
    ARGV[11] job id
    ARGV[12] job data JSON (kept in the reservation)
    ARGV[13] ledger max length
    ARGV[14] scope key (<kind>:<id>)
    ARGV[15] fingerprint

  Output:
    {"existing", status, cost}                          same request id seen before
    {"refused", reason, retryAfterMs, detail}
    {"accepted", position, balanceAfter, priority, activeCount}
]]
local rcall = redis.call

local userId = ARGV[1]
local now = tonumber(ARGV[2])
local today = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local dupWindow = tonumber(ARGV[5])
local jobId = ARGV[11]

-- Idempotency: the job id is derived from the request id, so a reservation under it means the
-- same request came before (possibly concurrently); give the same answer, admit nothing new.
local existing = rcall("HMGET", KEYS[5], "status", "cost")
if existing[1] then
  return {"existing", existing[1], existing[2]}
end

local defaults = cjson.decode(ARGV[6])
local stored = rcall("GET", KEYS[7])
local policy = {}
if stored then policy = cjson.decode(stored) end
local function setting(name)
  local v = policy[name]
  if v == nil or v == cjson.null then v = defaults[name] end
  return v
end

-- Tier resolution (mirrors effectiveLimits in quota-policy.ts): the most generous value among
-- the matching tiers that set a field; fields no matching tier sets keep the scope setting.
local roles = {}
for _, r in ipairs(cjson.decode(ARGV[7])) do roles[r] = true end
local limits = {
  dailyAllowance = setting("dailyAllowance"),
  cooldownS = setting("cooldownS"),
  pendingCap = setting("pendingCap"),
  maxPixels = setting("maxPixels"),
  maxSteps = setting("maxSteps"),
  priority = 0,
}
local smaller = { cooldownS = true }
local tiers = policy.tiers
if type(tiers) == "table" then
  local seen = {}
  for _, tier in ipairs(tiers) do
    if roles[tier.role] then
      for field, _ in pairs(limits) do
        local v = tier[field]
        if type(v) == "number" then
          if not seen[field] then
            limits[field] = v
            seen[field] = true
          elseif smaller[field] then
            limits[field] = math.min(limits[field], v)
          else
            limits[field] = math.max(limits[field], v)
          end
        end
      end
    end
  end
end

local function msToMidnight()
  return (today + 1) * 86400000 - now
end

-- 1. suspended
if rcall("SISMEMBER", KEYS[8], userId) == 1 then
  return {"refused", "suspended", 0, ""}
end

-- 2. the same request again within the window (the hosted APIs' spam filter)
if dupWindow > 0 then
  local seenAt = tonumber(rcall("GET", KEYS[4]))
  if seenAt and now - seenAt < dupWindow then
    return {"refused", "rate-limited", dupWindow - (now - seenAt), ""}
  end
end

local m = rcall("HMGET", KEYS[1], "granted", "day", "allowance", "spent", "lastAt", "reserved")
local granted = tonumber(m[1]) or 0
local storedDay = tonumber(m[2])
local credited = tonumber(m[3]) or 0
local storedSpent = tonumber(m[4]) or 0
local lastAt = tonumber(m[5])
local reserved = tonumber(m[6]) or 0

-- 3. cooldown
local cooldownMs = limits.cooldownS * 1000
if lastAt and cooldownMs > 0 and now - lastAt < cooldownMs then
  return {"refused", "cooldown", cooldownMs - (now - lastAt), ""}
end

-- 4. pending cap
local pendingCount = rcall("ZCARD", KEYS[3])
if pendingCount >= limits.pendingCap then
  return {"refused", "pending-cap", 0, tostring(limits.pendingCap)}
end

-- 5. the scope's daily budget
local dailyCap = setting("dailyCap") * 1000
if dailyCap > 0 then
  local scopeSpent = tonumber(rcall("GET", KEYS[9])) or 0
  if scopeSpent + cost > dailyCap then
    return {"refused", "scope-budget", msToMidnight(), ""}
  end
end

-- 6. banned words (whole words and phrases: both sides are normalized to " w w ")
local banned = setting("bannedWords")
if type(banned) == "table" then
  for _, word in ipairs(banned) do
    if string.find(ARGV[8], " " .. word .. " ", 1, true) then
      return {"refused", "banned-word", 0, word}
    end
  end
end

-- 7. the member's tier limits on size and steps
if tonumber(ARGV[9]) > limits.maxPixels then
  return {"refused", "over-limits", 0, "pixels:" .. limits.maxPixels}
end
if tonumber(ARGV[10]) > limits.maxSteps then
  return {"refused", "over-limits", 0, "steps:" .. limits.maxSteps}
end

-- 8. balance: today's allowance first, then granted credits
local allowance = limits.dailyAllowance * 1000
local spent = storedSpent
if storedDay ~= today then spent = 0 end
local allowanceLeft = math.max(0, allowance - spent)
if allowanceLeft + granted < cost then
  local wait = 0
  if allowance >= cost then wait = msToMidnight() end
  return {"refused", "insufficient-credits", wait, tostring(allowanceLeft + granted)}
end

-- Writes from here on.
local maxLen = ARGV[13]
local function ledger(kind, amount, balanceAfter, reason)
  return rcall("XADD", KEYS[2], "MAXLEN", "~", maxLen, "*", "at", ARGV[2], "kind", kind,
    "amount", string.format("%d", amount), "balance", string.format("%d", balanceAfter),
    "jobId", jobId, "by", userId, "reason", reason)
end

-- Bring the ledger up to today: what was left of an earlier day's allowance lapses, today's (or a
-- changed) allowance is credited, so the ledger's amounts always sum to the stored balance.
local storedLeft = math.max(0, credited - storedSpent)
local balance = storedLeft + granted
if storedDay ~= today then
  if storedDay and storedLeft > 0 then
    balance = balance - storedLeft
    ledger("allowance-expired", -storedLeft, balance, "day " .. storedDay)
  end
  if allowance > 0 then
    balance = balance + allowance
    ledger("daily-allowance", allowance, balance, "day " .. today)
  end
elseif credited ~= allowance then
  local delta = allowanceLeft - storedLeft
  if delta ~= 0 then
    balance = balance + delta
    ledger("allowance-changed", delta, balance, "tier allowance now " .. limits.dailyAllowance)
  end
end

local fromAllowance = math.min(cost, allowanceLeft)
local fromGranted = cost - fromAllowance
balance = balance - cost
local ledgerId = ledger("reserve", -cost, balance, "")

rcall("HSET", KEYS[1], "granted", string.format("%d", granted - fromGranted), "day", today,
  "allowance", string.format("%d", allowance), "spent", string.format("%d", spent + fromAllowance),
  "lastAt", ARGV[2], "reserved", string.format("%d", reserved + cost))

-- Fairness: a member's n-th pending job ranks behind everyone's (n-1)-th; the tier's priority
-- (0-9, higher sooner) orders jobs of the same rank. BullMQ runs lower numbers first.
local priority = 1 + math.min(pendingCount, 999) * 10 + (9 - math.max(0, math.min(9, limits.priority)))
rcall("ZADD", KEYS[3], now, jobId)
if dupWindow > 0 then
  rcall("SET", KEYS[4], ARGV[2], "PX", dupWindow)
end
rcall("HSET", KEYS[5], "status", "reserved", "cost", string.format("%d", cost),
  "fromAllowance", string.format("%d", fromAllowance), "fromGranted", string.format("%d", fromGranted),
  "day", today, "scope", ARGV[14], "userId", userId, "createdAt", ARGV[2],
  "prevLastAt", m[5] or "", "fingerprint", ARGV[15], "ledgerId", ledgerId,
  "priority", priority, "data", ARGV[12])
rcall("ZADD", KEYS[6], now, jobId)
-- Counted even without a cap, so a cap set during the day sees what was already spent.
rcall("INCRBY", KEYS[9], cost)
rcall("EXPIRE", KEYS[9], 172800)
rcall("SADD", KEYS[10], userId)

-- Place among waiting jobs: everything prioritized at this priority or better (BullMQ's score is
-- priority * 2^32 + counter) plus jobs without priority, which run first.
local ahead = rcall("ZCOUNT", KEYS[11], "-inf", "(" .. string.format("%.0f", (priority + 1) * 4294967296))
local position = ahead + rcall("LLEN", KEYS[12]) + 1
return {"accepted", position, balance, priority, rcall("LLEN", KEYS[13])}
