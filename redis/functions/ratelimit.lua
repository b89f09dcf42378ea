#!lua name=ratelimit

-- Sliding-window rate limiter, loaded by `migrate up` (see [[redis.functions]] in the config).
--
--   FCALL ratelimit_hit 1 <key> <window_ms> <limit> [cost]
--
-- Counts the hits of the last <window_ms> milliseconds in a sorted set at <key> (one member
-- per hit, scored by the server's time in ms) and records this hit if it fits under <limit>.
-- Returns {allowed, remaining, retry_after_ms}:
--   allowed         1 if the hit was recorded, 0 if it was refused
--   remaining       hits still allowed in the window after this one
--   retry_after_ms  when refused, how long until the oldest hit leaves the window (else 0)
-- The key expires one window after the last hit, so idle limiters cost nothing. Only <key> is
-- touched, so the function works on Redis Cluster too.
--
--   FCALL_RO ratelimit_peek 1 <key> <window_ms> <limit>
--
-- The same answer without recording a hit (read-only: runs on replicas).
--
-- Under ACL, the calling user needs +fcall (+fcall_ro), +time (the window runs on the
-- server's clock) and access to the limiter keys.

local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

local function arguments(keys, args, with_cost)
  if #keys ~= 1 then
    return nil, 'ERR ratelimit takes exactly one key'
  end
  local window = tonumber(args[1])
  local limit = tonumber(args[2])
  local cost = 1
  if with_cost and args[3] ~= nil then
    cost = tonumber(args[3])
  end
  if window == nil or window <= 0 or window ~= math.floor(window) then
    return nil, 'ERR window_ms must be a positive integer'
  end
  if limit == nil or limit < 0 or limit ~= math.floor(limit) then
    return nil, 'ERR limit must be a non-negative integer'
  end
  if cost == nil or cost < 1 or cost ~= math.floor(cost) then
    return nil, 'ERR cost must be a positive integer'
  end
  return {key = keys[1], window = window, limit = limit, cost = cost}
end

local function retry_after(key, window, now)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if oldest[2] == nil then
    return 0
  end
  return math.max(0, tonumber(oldest[2]) + window - now)
end

local function hit(keys, args)
  local a, err = arguments(keys, args, true)
  if a == nil then
    return redis.error_reply(err)
  end
  local now = now_ms()
  redis.call('ZREMRANGEBYSCORE', a.key, '-inf', now - a.window)
  local count = redis.call('ZCARD', a.key)
  if count + a.cost > a.limit then
    return {0, math.max(0, a.limit - count), retry_after(a.key, a.window, now)}
  end
  -- Members are unique: within one millisecond the count only grows.
  for i = 1, a.cost do
    redis.call('ZADD', a.key, now, now .. '-' .. (count + i))
  end
  redis.call('PEXPIRE', a.key, a.window)
  return {1, a.limit - count - a.cost, 0}
end

local function peek(keys, args)
  local a, err = arguments(keys, args, false)
  if a == nil then
    return redis.error_reply(err)
  end
  local now = now_ms()
  local count = redis.call('ZCOUNT', a.key, '(' .. (now - a.window), '+inf')
  if count >= a.limit then
    return {0, 0, retry_after(a.key, a.window, now)}
  end
  return {1, a.limit - count, 0}
end

redis.register_function('ratelimit_hit', hit)
redis.register_function{
  function_name = 'ratelimit_peek',
  callback = peek,
  flags = {'no-writes'},
}
