-- Apply pending corrections (and refresh this process's heartbeat); nothing is reserved.
-- The heartbeat also keeps this process's waiting head alive while it still waits.

local now, cfg, s, wake = begin()
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[3], num(now + cfg.h), ARGV[1])
end
finish(s, now, cfg, wake)
return reply(s, now, 0)
