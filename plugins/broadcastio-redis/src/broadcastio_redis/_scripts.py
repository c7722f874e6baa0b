"""The Lua scripts Redis runs for the coordinator: each check-and-change is one atomic step.

Time is the Redis server's (``TIME``), so processes on different machines
share one clock; every key expires, so an abandoned namespace cleans itself.
Numbers written back are formatted with ``string.format`` because Lua's
``tostring`` keeps only 14 significant digits.
"""

from __future__ import annotations

__all__ = ["ACQUIRE", "BREAKER", "OPEN", "PROBE_DONE", "RENEW", "TAKE_TOKEN"]

_NOW_MS = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

_SEMAPHORE = """
-- a lease semaphore: a sorted set of holder tokens scored by the time their lease ends
local function acquire(key, limit, token, lease)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.0f', now))
  if redis.call('ZCARD', key) < limit then
    redis.call('ZADD', key, string.format('%.0f', now + lease), token)
    redis.call('PEXPIRE', key, lease * 2)
    return -1
  end
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(first[2]) - now)
end
"""

TAKE_TOKEN = """
-- KEYS[1] bucket hash; ARGV[1] tokens per second, ARGV[2] burst.
-- Returns 0 when a token was taken, else the microseconds until one is due.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local rate = tonumber(ARGV[1]) / 1000000
local burst = tonumber(ARGV[2])
local tokens = burst
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
if state[1] then
  tokens = tonumber(state[1])
  local elapsed = now - tonumber(state[2])
  if elapsed > 0 then
    tokens = math.min(burst, tokens + elapsed * rate)
  end
end
local wait = 0
if tokens >= 1 - 1e-9 then
  tokens = math.max(0, tokens - 1)
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.9f', tokens), 'at', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate / 1000) + 1000)
return wait
"""

ACQUIRE = (
    _NOW_MS
    + _SEMAPHORE
    + """
-- KEYS[1] slots; ARGV[1] limit, ARGV[2] token, ARGV[3] lease ms.
-- Returns -1 when the slot was taken, else the ms until the oldest lease ends.
return acquire(KEYS[1], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]))
"""
)

RENEW = (
    _NOW_MS
    + """
-- KEYS[1] slots or probes; ARGV[1] lease ms, ARGV[2..] tokens held by this process.
-- Extends the leases still held; a lease already run out is not brought back.
local lease = tonumber(ARGV[1])
local renewed = 0
for index = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[index])
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[1], string.format('%.0f', now + lease), ARGV[index])
    renewed = renewed + 1
  end
end
if renewed > 0 then
  redis.call('PEXPIRE', KEYS[1], lease * 2)
end
return renewed
"""
)

BREAKER = (
    _NOW_MS
    + _SEMAPHORE
    + """
-- KEYS[1] open (TTL = cooldown left), KEYS[2] tripped, KEYS[3] probes;
-- ARGV[1] half-open probes, ARGV[2] token, ARGV[3] lease ms.
-- Returns {0, 0} closed, {1, ms} open for ms more, {2, 0} this call is a probe,
-- {3, ms} half-open with every probe taken (the oldest lease ends in ms).
local left = redis.call('PTTL', KEYS[1])
if left > 0 then
  return {1, left}
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return {0, 0}
end
local wait = acquire(KEYS[3], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]))
if wait < 0 then
  return {2, 0}
end
return {3, wait}
"""
)

_OPEN = """
local function open(cooldown, tripped)
  if redis.call('PTTL', KEYS[1]) < cooldown then
    redis.call('SET', KEYS[1], '1', 'PX', cooldown)
  end
  redis.call('SET', KEYS[2], '1', 'PX', tripped)
end
"""

OPEN = (
    _OPEN
    + """
-- KEYS[1] open, KEYS[2] tripped; ARGV[1] cooldown ms, ARGV[2] ms the trip is remembered.
open(tonumber(ARGV[1]), tonumber(ARGV[2]))
return 0
"""
)

PROBE_DONE = (
    _OPEN
    + """
-- KEYS[1] open, KEYS[2] tripped, KEYS[3] probes; ARGV[1] token, ARGV[2] ok|failed|none,
-- ARGV[3] cooldown ms, ARGV[4] ms the trip is remembered.
redis.call('ZREM', KEYS[3], ARGV[1])
if ARGV[2] == 'ok' then
  redis.call('DEL', KEYS[2])
elseif ARGV[2] == 'failed' then
  open(tonumber(ARGV[3]), tonumber(ARGV[4]))
end
return 0
"""
)
