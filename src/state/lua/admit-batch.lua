--[[
  Admits a batch of generation requests, one after the other, each as one atomic step: every
  check, then its reservation and its BullMQ job. All checks of a request run before its first
  write, so a refusal changes nothing. Batching only saves round trips and repeated work: each
  request is judged exactly as if it came alone, after the ones before it in the batch. Credits
  are milli-credits (integers) so that fractional prices add up exactly.

  Writes that are the same for the whole batch (the open-reservations set, the queue's prioritized
  set and counters, a scope's spend and members, BullMQ's marker) are made once, after the last
  request; what a later request of the batch must see of them is kept here meanwhile.

  An open reservation is one line, "<jobId> <cost> <fromAllowance> <fromGranted> <day> <scope>
  <userId>" (milli-credits; ids hold no spaces), kept in two places written anyway: a field of the
  job's hash (easelReservation), and the open-reservations set, scored by creation time, where the
  sweeper finds it even if the job was removed. Settling (settle-7.lua) removes both and writes the
  settled record. A separate record per reservation, and a set of pending jobs per member, each
  cost a Redis call per admission, most of what a whole check costs.

  The job is written as BullMQ's addPrioritizedJob script writes it (scripts.ts pins the BullMQ
  script this mirrors; test/admission/job-format.test.ts compares the two): the job hash, the
  "added" and "waiting" events, the prioritized set scored priority * 2^32 + counter, and the
  marker that wakes workers unless the queue is paused or at its global concurrency.

  Input (numkeys = 9 + 4 per scope + 4 per request; a scope's keys come once per batch):
    KEYS[1]  open reservations zset         <p>:reservations (members: reservation lines)
    KEYS[2..9] generate queue: wait, active, meta, id, prioritized, events, pc, marker
    then per scope s (base = 9 + 4 * (s - 1)):
    KEYS[base+1] scope policy (JSON)       <p>:policy:<scope>
    KEYS[base+2] scope suspended set       <p>:suspended:<scope>
    KEYS[base+3] scope spend today         <p>:scope-spent:<scope>:<day>
    KEYS[base+4] scope members set         <p>:members:<scope>
    then per request i (base = 9 + 4 * scopes + 4 * (i - 1)):
    KEYS[base+1] member hash               <p>:member:<scope>:<user>
    KEYS[base+2] member ledger stream      <p>:ledger:<scope>:<user>
    KEYS[base+3] settled reservation hash  <p>:reservation:<jobId>
    KEYS[base+4] BullMQ job hash           <p>:generate:<jobId>

    ARGV[1]  now (ms since epoch)
    ARGV[2]  today (UTC day number)
    ARGV[3]  duplicate window (ms, 0 = off)
    ARGV[4]  default policies JSON by scope kind, {"default": {...}, "<kind>": {...}} (fields a
             scope's policy does not set)
    ARGV[5]  ledger max length
    ARGV[6]  job name
    ARGV[7]  job options JSON as BullMQ stores them, without priority and jobId (set per job)
    ARGV[8]  number of scopes
    then per scope s: ARGV[8+s] scope key (<kind>:<id>)
    then per request i (base = 8 + scopes + 11 * (i - 1)):
    ARGV[base+1]  user id
    ARGV[base+2]  cost (milli-credits)
    ARGV[base+3]  member roles JSON array
    ARGV[base+4]  prompt as " word word " (lower case, one space between words)
    ARGV[base+5]  pixels of one image (width x height)
    ARGV[base+6]  steps
    ARGV[base+7]  job id
    ARGV[base+8]  job data JSON
    ARGV[base+9]  its scope's number s
    ARGV[base+10] request fingerprint (16 hex digits, for the duplicate filter)
    ARGV[base+11] "f" for a follow-up on a finished result (a button), "p" for a new prompt

  Output: one reply per request, in order:
    {"existing", status, cost}                      the same request id came before
    {"refused", reason, retryAfterMs, detail}
    {"accepted", position, balanceAfter, priority, activeCount}
    {"error", message}                              this request failed; nothing after it ran
]]
local rcall = redis.call

local nowArg = ARGV[1]
local now = tonumber(nowArg)
local todayArg = ARGV[2]
local today = tonumber(todayArg)
local dupWindow = tonumber(ARGV[3])
local defaultsByKind = cjson.decode(ARGV[4])
local maxLen = ARGV[5]
local jobName = ARGV[6]
local optionsJsonHead = string.sub(ARGV[7], 1, -2)
if optionsJsonHead ~= "{" then optionsJsonHead = optionsJsonHead .. "," end
local scopeCount = tonumber(ARGV[8])
local count = (#KEYS - 9 - 4 * scopeCount) / 4

local openKey, waitKey, activeKey, metaKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local idKey, prioritizedKey, eventsKey, pcKey, markerKey = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]

-- The duplicate filter remembers a member's most recent requests: a member sending more than
-- this many others within the window may repeat one unnoticed (the default cooldown allows 6).
local RECENT_MAX = 16
local FINGERPRINT_LENGTH = 16
local RECENT_ENTRY = FINGERPRINT_LENGTH + 13
-- This batch's time as a recent-request entry writes it.
local recentStamp = string.format("%013d", now)

local function fmt(n) return string.format("%d", n) end

-- A member's numbers, one field of their hash (settle-7.lua and grant-3.lua read it the same way):
-- "<granted> <day> <allowance> <spent> <reserved> <pending> <lastAt>", credits in milli-credits,
-- allowance as credited on that UTC day, pending = reservations not yet settled. One field rather
-- than seven: reading and writing seven cost admission more than the rest of its member step.
local MEMBER_STATE = "%d %d %d %d %d %d %d"
local function memberState(text)
  if not text then return 0, 0, 0, 0, 0, 0, 0 end
  local g, d, a, s, r, p, l = string.match(text, "^(-?%d+) (-?%d+) (-?%d+) (-?%d+) (-?%d+) (-?%d+) (-?%d+)$")
  return tonumber(g), tonumber(d), tonumber(a), tonumber(s), tonumber(r), tonumber(p), tonumber(l)
end

local function msToMidnight()
  return (today + 1) * 86400000 - now
end

-- Nothing in this script pushes to the wait list or moves jobs to active, so both lengths are
-- read once per batch.
local waitingCount = rcall("LLEN", waitKey)
local activeCount = rcall("LLEN", activeKey)

-- Per scope, read at its first request in the batch (only other scripts change these): its
-- policy, whether it suspended anyone at all (the per-member lookup is skipped otherwise), and
-- its spend today plus what this batch added.
local scopes = {}
local function scopeAt(s)
  local scope = scopes[s]
  if scope then return scope end
  local base = 9 + 4 * (s - 1)
  local stored = rcall("GET", KEYS[base + 1])
  scope = {
    key = ARGV[8 + s],
    suspendedKey = KEYS[base + 2],
    spentKey = KEYS[base + 3],
    membersKey = KEYS[base + 4],
    anySuspended = rcall("SCARD", KEYS[base + 2]) > 0,
    spent = nil,
    added = 0,
    newMembers = {},
  }
  local policy = stored and cjson.decode(stored) or {}
  local defaults = defaultsByKind[string.match(ARGV[8 + s], "^([^:]+):")] or defaultsByKind.default
  local function setting(name)
    local v = policy[name]
    if v == nil or v == cjson.null then v = defaults[name] end
    return v
  end
  -- The scope's limits for members no tier matches; tiers adjust a copy per request.
  scope.limits = {
    dailyAllowance = setting("dailyAllowance"),
    cooldownS = setting("cooldownS"),
    pendingCap = setting("pendingCap"),
    maxPixels = setting("maxPixels"),
    maxSteps = setting("maxSteps"),
    priority = 0,
  }
  scope.dailyCap = setting("dailyCap") * 1000
  scope.banned = setting("bannedWords")
  if type(policy.tiers) == "table" and #policy.tiers > 0 then scope.tiers = policy.tiers end
  scopes[s] = scope
  return scope
end

-- Tiers (mirrors effectiveLimits in quota-policy.ts): the most generous value among the matching
-- tiers that set a field; fields no matching tier sets keep the scope setting.
local function tieredLimits(scope, rolesJson)
  local limits = {}
  for field, v in pairs(scope.limits) do limits[field] = v end
  local roles = {}
  for _, r in ipairs(cjson.decode(rolesJson)) do roles[r] = true end
  local seen = {}
  for _, tier in ipairs(scope.tiers) do
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
  return limits
end

-- One ledger entry; amounts and balances in milli-credits.
local function ledger(key, kind, amount, balanceAfter, jobId, userId, reason)
  return rcall("XADD", key, "MAXLEN", "~", maxLen, "*", "at", nowArg, "kind", kind,
    "amount", fmt(amount), "balance", fmt(balanceAfter), "jobId", jobId, "by", userId,
    "reason", reason)
end

local function scopeSpent(scope)
  if scope.spent == nil then scope.spent = tonumber(rcall("GET", scope.spentKey)) or 0 end
  return scope.spent + scope.added
end

-- The queue's state for job placement, read once per batch at the first accepted request.
local queue = nil
local function queueState()
  if queue then return queue end
  local meta = rcall("HMGET", metaKey, "paused", "concurrency", "opts.maxLenEvents")
  local maxEvents = meta[3]
  if not maxEvents then
    maxEvents = "10000"
    rcall("HSET", metaKey, "opts.maxLenEvents", maxEvents)
  end
  queue = {
    pausedOrMaxed = meta[1] ~= false or (meta[2] ~= false and activeCount >= tonumber(meta[2])),
    maxEvents = maxEvents,
    -- Prioritized jobs already queued at or ahead of a priority (cached per priority), and this
    -- batch's jobs per priority.
    ahead = {},
    batch = {},
    jobs = {},
  }
  return queue
end

-- Place among waiting jobs: jobs without priority run first, then prioritized ones by score
-- (priority * 2^32 + a counter), so a new job goes after every queued job of its priority or less.
local function placeJob(jobId, priority)
  local q = queueState()
  local ahead = q.ahead[priority]
  if ahead == nil then
    ahead = rcall("ZCOUNT", prioritizedKey, "-inf", string.format("(%.0f", (priority + 1) * 0x100000000))
    q.ahead[priority] = ahead
  end
  for p, n in pairs(q.batch) do
    if p <= priority then ahead = ahead + n end
  end
  q.batch[priority] = (q.batch[priority] or 0) + 1
  q.jobs[#q.jobs + 1] = {jobId, priority}
  return waitingCount + ahead + 1
end

local function writeJob(q, jobKey, jobId, priority, data, reservation)
  local options = optionsJsonHead .. '"priority":' .. priority .. ',"jobId":"' .. jobId .. '"}'
  rcall("HMSET", jobKey, "name", jobName, "data", data, "opts", options, "timestamp", nowArg,
    "delay", "0", "priority", priority, "easelReservation", reservation)
  rcall("XADD", eventsKey, "*", "event", "added", "jobId", jobId, "name", jobName)
  rcall("XADD", eventsKey, "MAXLEN", "~", q.maxEvents, "*", "event", "waiting", "jobId", jobId)
end

local openArgs = {}

local function admitOne(k, a)
  local scope = scopeAt(tonumber(a[9]))
  local userId = a[1]
  local cost = tonumber(a[2])
  local jobId = a[7]

  -- Idempotency: the job id derives from the request id, so its job or its settled reservation
  -- means the same request came before (possibly concurrently): the same answer, nothing new.
  -- A job left after its settled reservation expired (BullMQ keeps finished jobs until a later
  -- job's completion cleans them) is the same request too; it is never overwritten.
  if rcall("EXISTS", k[3], k[4]) > 0 then
    local settled = rcall("HMGET", k[3], "status", "cost")
    if settled[1] then return {"existing", settled[1], settled[2] or "0"} end
    local open = rcall("HGET", k[4], "easelReservation")
    if open then return {"existing", "reserved", string.match(open, "^%S+ (%d+)")} end
    return {"existing", "settled", "0"}
  end

  local limits = scope.limits
  if scope.tiers then limits = tieredLimits(scope, a[3]) end

  -- 1. suspended
  if scope.anySuspended and rcall("SISMEMBER", scope.suspendedKey, userId) == 1 then
    return {"refused", "suspended", 0, ""}
  end

  local m = rcall("HMGET", k[1], "state", "recent")
  local granted, storedDay, credited, storedSpent, reserved, pendingCount, lastAt = memberState(m[1])
  -- The member's recent requests, newest first, each its fingerprint and time in fixed width
  -- ("<16 hex><13 digits>"), so finding one and keeping the newest take no parsing.
  local recent = m[2] or ""

  -- 2. the same request again within the window (the hosted APIs' spam filter)
  local fingerprint = a[10]
  if dupWindow > 0 then
    local seenAt = nil
    local at = string.find(recent, fingerprint, 1, true)
    while at do
      -- Only a match at the start of an entry counts (a time's digits are hex digits too).
      if (at - 1) % RECENT_ENTRY == 0 then
        seenAt = tonumber(string.sub(recent, at + FINGERPRINT_LENGTH, at + RECENT_ENTRY - 1))
        break
      end
      at = string.find(recent, fingerprint, at + 1, true)
    end
    if seenAt and now - seenAt < dupWindow then
      return {"refused", "rate-limited", dupWindow - (now - seenAt), ""}
    end
  end

  -- 3. cooldown: it spaces a member's new prompts; acting on a finished result (U, V, Reroll,
  -- Vary, Zoom Out, Upscale, Inpaint) is bounded by the pending cap, credits and budget instead.
  local followUp = a[11] == "f"
  local cooldownMs = limits.cooldownS * 1000
  if not followUp and lastAt > 0 and cooldownMs > 0 and now - lastAt < cooldownMs then
    return {"refused", "cooldown", cooldownMs - (now - lastAt), ""}
  end

  -- 4. pending cap (the member's reservations not yet settled)
  if pendingCount >= limits.pendingCap then
    return {"refused", "pending-cap", 0, tostring(limits.pendingCap)}
  end

  -- 5. the scope's daily budget
  if scope.dailyCap > 0 and scopeSpent(scope) + cost > scope.dailyCap then
    return {"refused", "scope-budget", msToMidnight(), ""}
  end

  -- 6. banned words (whole words and phrases: both sides are normalized to " w w ")
  local banned = scope.banned
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

  -- Bring the ledger up to today: what was left of an earlier day's allowance lapses, today's (or
  -- a changed) allowance is credited, so the ledger's amounts always sum to the stored balance.
  local storedLeft = math.max(0, credited - storedSpent)
  local balance = storedLeft + granted
  if storedDay ~= today then
    if storedDay > 0 and storedLeft > 0 then
      balance = balance - storedLeft
      ledger(k[2], "allowance-expired", -storedLeft, balance, jobId, userId, "day " .. storedDay)
    end
    if allowance > 0 then
      balance = balance + allowance
      ledger(k[2], "daily-allowance", allowance, balance, jobId, userId, "day " .. today)
    end
  elseif credited ~= allowance then
    local delta = allowanceLeft - storedLeft
    if delta ~= 0 then
      balance = balance + delta
      ledger(k[2], "allowance-changed", delta, balance, jobId, userId,
        "tier allowance now " .. limits.dailyAllowance)
    end
  end

  local fromAllowance = math.min(cost, allowanceLeft)
  local fromGranted = cost - fromAllowance
  balance = balance - cost
  ledger(k[2], "reserve", -cost, balance, jobId, userId, "")

  -- This request joins the recent ones; the oldest beyond the most kept drop out (older than the
  -- window, they would be ignored anyway).
  if dupWindow > 0 then
    recent = fingerprint .. recentStamp .. string.sub(recent, 1, (RECENT_MAX - 1) * RECENT_ENTRY)
  end

  -- The cooldown clock is the last new prompt's: a follow-up leaves it where it was.
  local promptAt = now
  if followUp then promptAt = lastAt end
  rcall("HSET", k[1], "state", string.format(MEMBER_STATE, granted - fromGranted, today, allowance,
    spent + fromAllowance, reserved + cost, pendingCount + 1, promptAt), "recent", recent)

  -- Fairness: a member's n-th pending job ranks behind everyone's (n-1)-th; the tier's priority
  -- (0-9, higher sooner) orders jobs of the same rank. BullMQ runs lower numbers first.
  local tierPriority = math.max(0, math.min(9, limits.priority))
  local priority = 1 + math.min(pendingCount, 999) * 10 + (9 - tierPriority)
  local reservation = jobId .. " " .. a[2] .. " " .. fmt(fromAllowance) .. " " .. fmt(fromGranted) ..
    " " .. todayArg .. " " .. scope.key .. " " .. userId
  openArgs[#openArgs + 1] = nowArg
  openArgs[#openArgs + 1] = reservation
  -- Counted even without a cap, so a cap set during the day sees what was already spent.
  scope.added = scope.added + cost
  -- A member admitted before is known to the scope already.
  if lastAt == 0 then scope.newMembers[#scope.newMembers + 1] = userId end

  local position = placeJob(jobId, priority)
  writeJob(queue, k[4], jobId, priority, a[8], reservation)
  return {"accepted", position, fmt(balance), priority, activeCount}
end

local replies = {}
local failed = nil
for i = 1, count do
  if failed then
    replies[i] = {"error", failed}
  else
    local kb = 9 + 4 * scopeCount + 4 * (i - 1)
    local ab = 8 + scopeCount + 11 * (i - 1)
    local k = {KEYS[kb + 1], KEYS[kb + 2], KEYS[kb + 3], KEYS[kb + 4]}
    local a = {ARGV[ab + 1], ARGV[ab + 2], ARGV[ab + 3], ARGV[ab + 4], ARGV[ab + 5],
      ARGV[ab + 6], ARGV[ab + 7], ARGV[ab + 8], ARGV[ab + 9], ARGV[ab + 10], ARGV[ab + 11]}
    -- An error (Redis out of memory, say) ends the batch here, after the writes for the requests
    -- already accepted, so none of them is left half-done.
    local ok, reply = pcall(admitOne, k, a)
    if ok then
      replies[i] = reply
    else
      -- redis.call raises its error as a table with the message in `err`.
      failed = type(reply) == "table" and tostring(reply.err) or tostring(reply)
      replies[i] = {"error", failed}
    end
  end
end

-- The batch's shared writes.
if #openArgs > 0 then
  rcall("ZADD", openKey, unpack(openArgs))
end
for _, scope in pairs(scopes) do
  if scope.added > 0 and rcall("INCRBY", scope.spentKey, scope.added) == scope.added then
    rcall("EXPIRE", scope.spentKey, 172800)
  end
  if #scope.newMembers > 0 then rcall("SADD", scope.membersKey, unpack(scope.newMembers)) end
end
if queue and #queue.jobs > 0 then
  local n = #queue.jobs
  -- BullMQ counts every job added (its id counter) and scores prioritized jobs by a counter too.
  rcall("INCRBY", idKey, n)
  local last = rcall("INCRBY", pcKey, n)
  local scored = {}
  for j, job in ipairs(queue.jobs) do
    scored[#scored + 1] = string.format("%.0f", job[2] * 0x100000000 + (last - n + j) % 0x100000000)
    scored[#scored + 1] = job[1]
  end
  rcall("ZADD", prioritizedKey, unpack(scored))
  if not queue.pausedOrMaxed then rcall("ZADD", markerKey, 0, "0") end
end
return replies
