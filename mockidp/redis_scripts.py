"""The Lua scripts of `redis_store.RedisStore`: each is one atomic step on Redis (EVALSHA, loaded on first use).

Values are `<expires_at>|<json>`; a script reads the expiry before the bar and never re-encodes the JSON (Redis's
cjson would turn an empty list into an object). `now` is always the engine clock's, passed in (never Redis TIME):
a test that freezes or rewinds the clock decides what is live. https://redis.io/docs/latest/develop/interact/programmability/eval-intro/
"""

# A value is live at `now` when it has no expiry or expires after now.
_LIVE = """
local function live(v, now)
  if not v then return false end
  local e = string.match(v, '^([^|]*)|')
  return e == '' or now == nil or tonumber(e) > now
end
"""

# KEYS: hash, kinds set. ARGV: field, value, gc seconds, kind.
PUT = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
"""

# Single use (a hash field's GETDEL). KEYS: hash. ARGV: field.
TAKE = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then redis.call('HDEL', KEYS[1], ARGV[1]) end
return v
"""

# First writer wins (a hash field's SET NX, expiry judged at `now`). KEYS: hash, kinds set.
# ARGV: field, value, gc seconds, kind, now ('' for none), 1 to answer won/lost (else the value kept).
SETDEFAULT = _LIVE + """
local v = redis.call('HGET', KEYS[1], ARGV[1])
local now = tonumber(ARGV[5])
if live(v, now) then
  if ARGV[6] == '1' then return 0 end
  return v
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
if ARGV[6] == '1' then return 1 end
return ARGV[2]
"""

# One use of a planned item. KEYS: hash, use counts. ARGV: field. Returns {value, used} or nil when gone.
CONSUME = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return nil end
local times = cjson.decode(string.match(v, '^[^|]*|(.*)$'))['times']
local used = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if times ~= cjson.null and times ~= nil then
  if used > times then return nil end
  if used >= times then
    redis.call('HDEL', KEYS[1], ARGV[1])
    redis.call('HDEL', KEYS[2], ARGV[1])
  end
end
return {v, used}
"""

# Lock a field and read it. KEYS: hash, lock. ARGV: field, token, lock ms. 0: locked by another; -1: no value.
LOCK_READ = """
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return 0 end
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then
  redis.call('DEL', KEYS[2])
  return -1
end
return v
"""

# Write (set / del / keep) and unlock, if the lock is still ours. KEYS: hash, lock. ARGV: field, token, op, value.
WRITE_UNLOCK = """
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
if ARGV[3] == 'set' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
elseif ARGV[3] == 'del' then redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('DEL', KEYS[2])
return 1
"""

# A bounded log. KEYS: list, kinds set. ARGV: value, maxlen, kind.
APPEND = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('SADD', KEYS[2], ARGV[3])
"""

# Numbered entries of a bounded log, one sequence for every process. KEYS: list, sequence, kinds set.
# ARGV: maxlen, kind, count, the entries (JSON objects without "seq": it is put first) joined by newlines.
APPEND_NUMBERED = """
local n = tonumber(ARGV[3])
local seq = redis.call('INCRBY', KEYS[2], n) - n
for body in string.gmatch(ARGV[4], '[^\\n]+') do
  seq = seq + 1
  local rest = string.sub(body, 2)
  local sep = ','
  if rest == '}' then sep = '' end
  redis.call('RPUSH', KEYS[1], '{"seq":' .. seq .. sep .. rest)
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('SADD', KEYS[3], ARGV[2])
"""

# Forget everything but the durable kinds and the logs' sequences. KEYS: kinds set. ARGV: prefix, durable prefix.
CLEAR = """
local p = ARGV[1]
for _, kind in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if string.sub(kind, 1, #ARGV[2]) ~= ARGV[2] then
    redis.call('DEL', p .. ':kv:' .. kind, p .. ':log:' .. kind, p .. ':used:' .. kind)
    redis.call('SREM', KEYS[1], kind)
  end
end
redis.call('DEL', p .. ':ctr')
"""

# Drop items expired at engine time `now`, a slice of the hash at a time. KEYS: hash. ARGV: cursor, now.
SWEEP = _LIVE + """
local res = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', 500)
local fields = res[2]
for i = 1, #fields, 2 do
  if not live(fields[i + 1], tonumber(ARGV[2])) then redis.call('HDEL', KEYS[1], fields[i]) end
end
return res[1]
"""

# A request's view of several kinds in one command (cheaper than a pipeline of HGETALLs: one reply to parse).
# KEYS: for each kind its hash then its use counts. Returns the HGETALL replies in that order.
READ_MANY = """
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HGETALL', KEYS[i]) end
return out
"""
