--[[
  Admits a batch of generation requests, one after the other, each as one atomic step: every
  check, then its reservation and its BullMQ job. All checks of a request run before its first
  write, so a refusal changes nothing. Batching only saves round trips: each request is judged
  exactly as if it came alone, after the ones before it in the batch. Credits are milli-credits
  (integers) so that fractional prices add up exactly.

  The job is created by BullMQ's own addPrioritizedJob script, which scripts.ts places above this
  one as the function `bullmqAddPrioritizedJob`; it reads KEYS and ARGV, which are refilled with
  its arguments before each call (this script copied its own first).

  Input (numkeys = 11 + 4 per scope + 5 per request; a scope's keys come once per batch):
    KEYS[1]  open reservations zset         <p>:reservations
    KEYS[2]  generate wait list             <p>:generate:wait
    KEYS[3..11] BullMQ's addPrioritizedJob keys of the generate queue, in its order:
             marker, meta, id, prioritized, delayed, completed, active, events, pc
    then per scope s (base = 11 + 4 * (s - 1)):
    KEYS[base+1] scope policy (JSON)       <p>:policy:<scope>
    KEYS[base+2] scope suspended set       <p>:suspended:<scope>
    KEYS[base+3] scope spend today         <p>:scope-spent:<scope>:<day>
    KEYS[base+4] scope members set         <p>:members:<scope>
    then per request i (base = 11 + 4 * scopes + 5 * (i - 1)):
    KEYS[base+1] member hash               <p>:member:<scope>:<user>
    KEYS[base+2] member ledger stream      <p>:ledger:<scope>:<user>
    KEYS[base+3] member pending jobs zset  <p>:pending:<scope>:<user>
    KEYS[base+4] duplicate-request marker  <p>:dup:<scope>:<user>:<fingerprint>
    KEYS[base+5] reservation hash          <p>:reservation:<jobId>

    ARGV[1]  now (ms since epoch)
    ARGV[2]  today (UTC day number)
    ARGV[3]  duplicate window (ms, 0 = off)
    ARGV[4]  default policy JSON (fields a scope's policy does not set)
    ARGV[5]  ledger max length
    ARGV[6]  generate queue key prefix (<p>:generate:)
    ARGV[7]  job name
    ARGV[8]  job options JSON as BullMQ stores them (priority and jobId are set per job)
    ARGV[9]  number of scopes
    then per scope s: ARGV[9+s] scope key (<kind>:<id>)
    then per request i (base = 9 + scopes + 9 * (i - 1)):
    ARGV[base+1]  user id
    ARGV[base+2]  cost (milli-credits)
    ARGV[base+3]  member roles JSON array
    ARGV[base+4]  prompt as " word word " (lower case, one space between words)
    ARGV[base+5]  pixels of one image (width x height)
    ARGV[base+6]  steps
    ARGV[base+7]  job id
    ARGV[base+8]  job data JSON (the job's data, also kept in the reservation)
    ARGV[base+9]  its scope's number s

  Output: one reply per request, in order:
    {"existing", status, cost}                      the same request id came before
    {"refused", reason, retryAfterMs, detail}
    {"accepted", position, balanceAfter, priority, activeCount}
]]
local rcall = redis.call

-- Our arguments, copied before KEYS and ARGV are refilled for BullMQ's script.
local keys = {}
for i = 1, #KEYS do keys[i] = KEYS[i] end
local args = {}
for i = 1, #ARGV do args[i] = ARGV[i] end

local now = tonumber(args[1])
local today = tonumber(args[2])
local dupWindow = tonumber(args[3])
local defaults = cjson.decode(args[4])
local maxLen = args[5]
local queuePrefix = args[6]
local jobName = args[7]
local jobOptions = cjson.decode(args[8])
local scopeCount = tonumber(args[9])
local count = (#keys - 11 - 4 * scopeCount) / 5

local bullKeys = {keys[3], keys[4], keys[5], keys[6], keys[7], keys[8], keys[9], keys[10], keys[11]}

local function addJob(jobId, priority, data)
  jobOptions["priority"] = priority
  jobOptions["jobId"] = jobId
  for i = 1, #KEYS do KEYS[i] = bullKeys[i] end
  for i = 1, #ARGV do ARGV[i] = nil end
  ARGV[1] = cmsgpack.pack({queuePrefix, jobId, jobName, now})
  ARGV[2] = data
  ARGV[3] = cmsgpack.pack(jobOptions)
  return bullmqAddPrioritizedJob()
end

local function fmt(n) return string.format("%d", n) end

local function msToMidnight()
  return (today + 1) * 86400000 - now
end

-- Nothing in this script pushes to the wait list or moves jobs to active (BullMQ's add only
-- touches the prioritized set), so both lengths are read once per batch.
local waitingCount = rcall("LLEN", keys[2])
local activeCount = rcall("LLEN", keys[9])

-- Whether a scope suspended anyone at all, read once per scope per batch (only other scripts
-- change the set): the per-member lookup is skipped for scopes that suspended no one.
local anySuspended = {}
local function suspendedIn(key, userId)
  local any = anySuspended[key]
  if any == nil then
    any = rcall("SCARD", key) > 0
    anySuspended[key] = any
  end
  return any and rcall("SISMEMBER", key, userId) == 1
end

-- Policies are read once per scope per batch (only other scripts change them).
local policies = {}
local function policyAt(key)
  local cached = policies[key]
  if cached then return cached end
  local stored = rcall("GET", key)
  local policy = {}
  if stored then policy = cjson.decode(stored) end
  policies[key] = policy
  return policy
end

local function admitOne(k, a)
  local userId = a[1]
  local cost = tonumber(a[2])
  local jobId = a[7]

  -- Idempotency: the job id derives from the request id, so a reservation under it means the
  -- same request came before (possibly concurrently): the same answer, nothing new.
  local existing = rcall("HMGET", k[5], "status", "cost")
  if existing[1] then
    return {"existing", existing[1], existing[2]}
  end

  local policy = policyAt(k[6])
  local function setting(name)
    local v = policy[name]
    if v == nil or v == cjson.null then v = defaults[name] end
    return v
  end

  -- Tiers (mirrors effectiveLimits in quota-policy.ts): the most generous value among the
  -- matching tiers that set a field; fields no matching tier sets keep the scope setting.
  local limits = {
    dailyAllowance = setting("dailyAllowance"),
    cooldownS = setting("cooldownS"),
    pendingCap = setting("pendingCap"),
    maxPixels = setting("maxPixels"),
    maxSteps = setting("maxSteps"),
    priority = 0,
  }
  local tiers = policy.tiers
  if type(tiers) == "table" and #tiers > 0 then
    local roles = {}
    for _, r in ipairs(cjson.decode(a[3])) do roles[r] = true end
    local seen = {}
    for _, tier in ipairs(tiers) do
      if roles[tier.role] then
        for field, _ in pairs(limits) do
          local v = tier[field]
          if type(v) == "number" then
            if not seen[field] then
              limits[field] = v
              seen[field] = true
            elseif field == "cooldownS" then
              limits[field] = math.min(limits[field], v)
            else
              limits[field] = math.max(limits[field], v)
            end
          end
        end
      end
    end
  end

  -- 1. suspended
  if suspendedIn(k[7], userId) then
    return {"refused", "suspended", 0, ""}
  end

  -- 2. the same request again within the window (the hosted APIs' spam filter)
  if dupWindow > 0 then
    local seenAt = tonumber(rcall("GET", k[4]))
    if seenAt and now - seenAt < dupWindow then
      return {"refused", "rate-limited", dupWindow - (now - seenAt), ""}
    end
  end

  local m = rcall("HMGET", k[1], "granted", "day", "allowance", "spent", "lastAt", "reserved")
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
  local pendingCount = rcall("ZCARD", k[3])
  if pendingCount >= limits.pendingCap then
    return {"refused", "pending-cap", 0, tostring(limits.pendingCap)}
  end

  -- 5. the scope's daily budget
  local dailyCap = setting("dailyCap") * 1000
  if dailyCap > 0 then
    local scopeSpent = tonumber(rcall("GET", k[8])) or 0
    if scopeSpent + cost > dailyCap then
      return {"refused", "scope-budget", msToMidnight(), ""}
    end
  end

  -- 6. banned words (whole words and phrases: both sides are normalized to " w w ")
  local banned = setting("bannedWords")
  if type(banned) == "table" then
    for _, word in ipairs(banned) do
      if string.find(a[4], " " .. word .. " ", 1, true) then
        return {"refused", "banned-word", 0, word}
      end
    end
  end

  -- 7. the member's tier limits on size and steps
  if tonumber(a[5]) > limits.maxPixels then
    return {"refused", "over-limits", 0, "pixels:" .. limits.maxPixels}
  end
  if tonumber(a[6]) > limits.maxSteps then
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
    return {"refused", "insufficient-credits", wait, fmt(allowanceLeft + granted)}
  end

  -- Writes from here on.
  local function ledger(kind, amount, balanceAfter, reason)
    return rcall("XADD", k[2], "MAXLEN", "~", maxLen, "*", "at", args[1], "kind", kind,
      "amount", fmt(amount), "balance", fmt(balanceAfter), "jobId", jobId, "by", userId,
      "reason", reason)
  end

  -- Bring the ledger up to today: what was left of an earlier day's allowance lapses, today's (or
  -- a changed) allowance is credited, so the ledger's amounts always sum to the stored balance.
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
  ledger("reserve", -cost, balance, "")

  rcall("HSET", k[1], "granted", fmt(granted - fromGranted), "day", today,
    "allowance", fmt(allowance), "spent", fmt(spent + fromAllowance),
    "lastAt", args[1], "reserved", fmt(reserved + cost))

  -- Fairness: a member's n-th pending job ranks behind everyone's (n-1)-th; the tier's priority
  -- (0-9, higher sooner) orders jobs of the same rank. BullMQ runs lower numbers first.
  local tierPriority = math.max(0, math.min(9, limits.priority))
  local priority = 1 + math.min(pendingCount, 999) * 10 + (9 - tierPriority)
  rcall("ZADD", k[3], now, jobId)
  if dupWindow > 0 then
    rcall("SET", k[4], args[1], "PX", dupWindow)
  end
  rcall("HSET", k[5], "status", "reserved", "cost", fmt(cost),
    "fromAllowance", fmt(fromAllowance), "fromGranted", fmt(fromGranted),
    "day", today, "scope", a[9], "userId", userId, "createdAt", args[1],
    "priority", priority, "data", a[8])
  rcall("ZADD", keys[1], now, jobId)
  -- Counted even without a cap, so a cap set during the day sees what was already spent.
  if rcall("INCRBY", k[8], cost) == cost then rcall("EXPIRE", k[8], 172800) end
  -- A member admitted before is known to the scope already.
  if not lastAt then rcall("SADD", k[9], userId) end

  local added = addJob(jobId, priority, a[8])
  if type(added) == "number" and added < 0 then
    error("BullMQ refused job " .. jobId .. ": " .. added)
  end

  -- Place among waiting jobs: jobs without priority run first, then prioritized ones by score.
  local rank = rcall("ZRANK", keys[6], jobId) or 0
  local position = rank + waitingCount + 1
  return {"accepted", position, fmt(balance), priority, activeCount}
end

local replies = {}
for i = 1, count do
  local kb = 11 + 4 * scopeCount + 5 * (i - 1)
  local ab = 9 + scopeCount + 9 * (i - 1)
  local k = {}
  for j = 1, 5 do k[j] = keys[kb + j] end
  local a = {}
  for j = 1, 8 do a[j] = args[ab + j] end
  -- The request's scope: its keys as k[6..9] and its key as a[9], as admitOne reads them.
  local s = tonumber(args[ab + 9])
  local sb = 11 + 4 * (s - 1)
  for j = 1, 4 do k[5 + j] = keys[sb + j] end
  a[9] = args[9 + s]
  replies[i] = admitOne(k, a)
end
return replies
