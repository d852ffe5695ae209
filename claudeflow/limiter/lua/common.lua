-- Shared prelude of every claudeflow pool script (prepended by _redis_scripts.py).
--
-- KEYS[1] state    hash: <dim>:level|stamp|rate|cap|learned, pause_until, pause_reason
-- KEYS[2] heads    zset: member = process id, score = class of its waiting head
-- KEYS[3] expiry   zset: member = process id, score = when its head entry dies
-- KEYS[4] procs    zset: member = process id, score = when its heartbeat dies
-- KEYS[5] seen     hash: process id -> highest op sequence number applied
-- KEYS[6] since    hash: process id -> when its head entered the line in its class
-- ARGV[1] process id, ARGV[2] channel, ARGV[3] config JSON, ARGV[4] ops JSON
--
-- Time is the Redis server's (TIME), never a client's: clients' clocks disagree.

local DIMS = {'requests', 'input_tokens', 'output_tokens'}
local EPS = 1e-9

local function num(x)
  return string.format('%.17g', x)
end

local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1e6
end

local function load_state(now)
  local flat = redis.call('HGETALL', KEYS[1])
  local h = {}
  for i = 1, #flat, 2 do
    h[flat[i]] = flat[i + 1]
  end
  local s = {buckets = {}, pause_until = tonumber(h['pause_until'] or '0'),
             pause_reason = h['pause_reason'] or ''}
  for _, dim in ipairs(DIMS) do
    local level = h[dim .. ':level']
    if level then
      local b = {level = tonumber(level), rate = tonumber(h[dim .. ':rate']),
                 cap = tonumber(h[dim .. ':cap']), learned = h[dim .. ':learned'] == '1'}
      local stamp = tonumber(h[dim .. ':stamp'])
      if now > stamp then
        b.level = math.min(b.cap, b.level + (now - stamp) * b.rate)
      end
      s.buckets[dim] = b
    end
  end
  return s
end

local function save_state(s, now)
  local args = {'pause_until', num(s.pause_until), 'pause_reason', s.pause_reason}
  for dim, b in pairs(s.buckets) do
    table.insert(args, dim .. ':level'); table.insert(args, num(b.level))
    table.insert(args, dim .. ':stamp'); table.insert(args, num(now))
    table.insert(args, dim .. ':rate'); table.insert(args, num(b.rate))
    table.insert(args, dim .. ':cap'); table.insert(args, num(b.cap))
    table.insert(args, dim .. ':learned'); table.insert(args, b.learned and '1' or '0')
  end
  redis.call('HSET', KEYS[1], unpack(args))
end

-- Configured limits create full buckets and win over learned ones.
local function configure(s, cfg)
  for i, dim in ipairs(DIMS) do
    local rate, cap = cfg.r[i], cfg.c[i]
    if rate > 0 then
      local b = s.buckets[dim]
      if not b then
        s.buckets[dim] = {level = cap, rate = rate, cap = cap, learned = false}
      elseif b.learned or b.rate ~= rate or b.cap ~= cap then
        b.rate, b.cap, b.learned = rate, cap, false
        b.level = math.min(b.level, cap)
      end
    end
  end
end

local function learn(s, cfg, dim, limit, remaining, window)
  local rate, cap = limit / (window or cfg.w), limit * cfg.b
  local b = s.buckets[dim]
  if b and not b.learned then
    return false -- configured limits win over what the server says
  end
  if not b then
    b = {level = math.min(remaining, cap), rate = rate, cap = cap, learned = true}
    s.buckets[dim] = b
  else
    b.rate, b.cap = rate, cap
    b.level = math.min(b.level, cap)
  end
  b.level = math.min(b.level, remaining)
  return true
end

-- The class of a process's registered head, or nil.
local function head_class(pid)
  local score = redis.call('ZSCORE', KEYS[2], pid)
  return score and tonumber(score)
end

-- A head keeps its place in line while it waits in the same class.
local function set_head(pid, priority, now, cfg)
  if head_class(pid) ~= priority then
    redis.call('ZADD', KEYS[2], priority, pid)
    redis.call('HSET', KEYS[6], pid, num(now))
  end
  redis.call('ZADD', KEYS[3], num(now + cfg.h), pid)
end

local function drop_head(pid)
  redis.call('ZREM', KEYS[3], pid)
  redis.call('HDEL', KEYS[6], pid)
  return redis.call('ZREM', KEYS[2], pid) == 1
end

-- Apply this process's corrections (give-back, clamp, learn, pause, head) exactly once:
-- each carries a sequence number and the highest one applied is remembered per process,
-- so a call retried after a lost reply skips what already happened.
-- Returns whether capacity may exist sooner for someone (worth a wake-up).
local function apply_ops(s, now, pid, cfg, ops)
  local last = tonumber(redis.call('HGET', KEYS[5], pid) or '0')
  local wake = false
  for _, op in ipairs(ops) do
    if op.s > last then
      last = op.s
      if op.k == 'give' then
        for i, dim in ipairs(DIMS) do
          local b, v = s.buckets[dim], op.a[i]
          if b and v > 0 then
            b.level = math.min(b.cap, b.level + v)
            wake = true
          elseif b and v < 0 then
            b.level = b.level + v -- used more than reserved: debt
          end
        end
      elseif op.k == 'clamp' then
        local b = s.buckets[op.d]
        if b and not b.learned and op.v < b.level then
          b.level = op.v
        end
      elseif op.k == 'learn' then
        wake = learn(s, cfg, op.d, op.l, op.v, op.w) or wake
      elseif op.k == 'pause' then
        local untl = now + math.max(0, op.v)
        if untl > s.pause_until then
          s.pause_until, s.pause_reason = untl, op.r
        end
      elseif op.k == 'head' then
        if op.p then
          set_head(pid, op.p, now, cfg)
        else
          wake = drop_head(pid) or wake
        end
      elseif op.k == 'bye' then
        -- Closing: count this process out now (the next script's drop_dead forgets it).
        wake = drop_head(pid) or wake
        s.gone = true
      end
    end
  end
  redis.call('HSET', KEYS[5], pid, last)
  return wake
end

-- Forget processes whose heartbeat stopped (crashed) and their waiting heads.
local function drop_dead(now)
  for _, key in ipairs({KEYS[3], KEYS[4]}) do
    local dead = redis.call('ZRANGEBYSCORE', key, '-inf', num(now))
    if #dead > 0 then
      redis.call('ZREM', KEYS[2], unpack(dead))
      redis.call('ZREM', KEYS[3], unpack(dead))
      redis.call('HDEL', KEYS[6], unpack(dead))
      if key == KEYS[4] then
        redis.call('ZREM', KEYS[4], unpack(dead))
        redis.call('HDEL', KEYS[5], unpack(dead))
      end
    end
  end
end

local function touch(s, pid, now, cfg)
  redis.call('ZADD', KEYS[4], num(s.gone and now or now + cfg.h), pid)
  for i = 1, #KEYS do
    redis.call('PEXPIRE', KEYS[i], cfg.t)
  end
end

-- Everything a client needs to mirror the pool: the wait first, then the shared view.
local function reply(s, now, wait)
  local out = {num(wait), num(math.max(0, s.pause_until - now)), s.pause_reason,
               redis.call('ZCARD', KEYS[4])}
  for _, dim in ipairs(DIMS) do
    local b = s.buckets[dim]
    if b then
      table.insert(out, dim)
      table.insert(out, num(b.level))
      table.insert(out, num(b.cap))
      table.insert(out, num(b.rate))
      table.insert(out, b.learned and 1 or 0)
    end
  end
  return out
end

local function begin()
  local now = server_now()
  local cfg = cjson.decode(ARGV[3])
  local s = load_state(now)
  configure(s, cfg)
  drop_dead(now)
  local wake = apply_ops(s, now, ARGV[1], cfg, cjson.decode(ARGV[4]))
  return now, cfg, s, wake
end

local function finish(s, now, cfg, wake)
  save_state(s, now)
  touch(s, ARGV[1], now, cfg)
  if wake then
    redis.call('PUBLISH', ARGV[2], ARGV[1])
  end
end
