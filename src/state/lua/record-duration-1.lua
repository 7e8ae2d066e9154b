--[[
  Folds one processing time into the moving averages used for ETAs (per model and size, and
  overall). An exponentially weighted average follows changes (a new GPU, a warm cache) quickly.

  Input:
    KEYS[1] durations hash   <p>:durations
    ARGV[1] field            <model>:<width>x<height>
    ARGV[2] duration (ms)
    ARGV[3] weight of the new sample (0-1)
]]
local rcall = redis.call
local ms = tonumber(ARGV[2])
local weight = tonumber(ARGV[3])
for _, field in ipairs({ARGV[1], "*"}) do
  local old = tonumber(rcall("HGET", KEYS[1], field))
  local new = ms
  if old then new = old + weight * (ms - old) end
  rcall("HSET", KEYS[1], field, string.format("%.0f", new))
end
return 1
