-- Reserve all-or-nothing. ARGV[5] class of the request, ARGV[6..8] the amounts.
--
-- The wait is the longest of: the pause left, each bucket's time until it holds the
-- amount plus lead_s of refill (never more than a full bucket), and, while another
-- process has a waiting head ahead of this one (see ahead_wait), the time until that
-- entry would expire. Refusing then lets capacity accumulate for that head; its
-- admission (or departure) publishes a wake-up, so the wait is normally cut short.

local function bucket_wait(s, cfg, amounts)
  local wait = 0
  for i, dim in ipairs(DIMS) do
    local b, amount = s.buckets[dim], amounts[i]
    if b and amount > 0 then
      if amount > b.cap * (1 + EPS) then
        return math.huge
      end
      local need = math.min(amount + b.rate * cfg.l[i], math.max(amount, b.cap))
      local deficit = need - b.level
      if deficit > EPS * math.max(1, need) then
        wait = math.max(wait, deficit / b.rate)
      end
    end
  end
  return wait
end

-- Heads across processes go in (class, time in line) order: a more urgent class first,
-- and within a class whoever has waited longest (a large head accumulates capacity
-- instead of being overtaken by small requests from other processes).
local function ahead_wait(pid, priority, now)
  local mine = now
  if head_class(pid) == priority then
    mine = tonumber(redis.call('HGET', KEYS[6], pid) or num(now))
  end
  local heads = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', priority, 'WITHSCORES')
  for i = 1, #heads, 2 do
    local other, class = heads[i], tonumber(heads[i + 1])
    if other ~= pid then
      local since = tonumber(redis.call('HGET', KEYS[6], other) or num(now))
      if class < priority or since < mine or (since == mine and other < pid) then
        local dies = tonumber(redis.call('ZSCORE', KEYS[3], other) or num(now))
        return math.max(dies - now, 0.001)
      end
    end
  end
  return 0
end

local now, cfg, s, wake = begin()
local pid, priority = ARGV[1], tonumber(ARGV[5])
local amounts = {tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])}
local wait = math.max(0, s.pause_until - now, bucket_wait(s, cfg, amounts))
wait = math.max(wait, ahead_wait(pid, priority, now))
if wait <= 0 then
  for i, dim in ipairs(DIMS) do
    local b = s.buckets[dim]
    if b then
      b.level = b.level - amounts[i]
    end
  end
  -- Our head is served: whoever deferred to it may go now.
  wake = drop_head(pid) or wake
else
  set_head(pid, priority, now, cfg)
end
finish(s, now, cfg, wake)
return reply(s, now, wait)
