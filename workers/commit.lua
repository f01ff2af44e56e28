-- Commit one document atomically: decide created / updated / duplicate / stale for
-- every post against its stored state, XADD the events, move the counters, and mark
-- the document done. Nothing is written unless every decision the worker prepared
-- still holds; otherwise the conflicting post indexes are returned and the worker
-- re-reads and retries.
--
-- KEYS: 1 done marker, 2 stats hash, 3 global stream, 4 blog stream, 5.. post hashes
-- ARGV: 1 fetched_at_ms, 2 ttl_s, 3 global maxlen, 4 blog maxlen, 5 post count,
--       6 summary, then 10 per post: decision, expected revision, content hash,
--       event id, event json, event type, title hash, body hash, author, published
local done = KEYS[1]
if redis.call('EXISTS', done) == 1 then
  return {'done', redis.call('GET', done)}
end
local fetched = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local maxlen_all = tonumber(ARGV[3])
local maxlen_blog = tonumber(ARGV[4])
local n = tonumber(ARGV[5])
local PER = 10
local FIRST = 7

local function decide(key, hash)
  local cur = redis.call('HMGET', key, 'rev', 'hash', 'seen')
  local rev = tonumber(cur[1]) or 0
  if rev == 0 then return 'created', rev, 0 end
  local seen = tonumber(cur[3]) or 0
  if cur[2] == hash then return 'duplicate', rev, seen end
  if fetched < seen then return 'stale', rev, seen end
  return 'updated', rev, seen
end

local conflicts = {}
local seen_at = {}
for i = 1, n do
  local a = FIRST + (i - 1) * PER
  local decision, rev, seen = decide(KEYS[4 + i], ARGV[a + 2])
  seen_at[i] = seen
  if decision ~= ARGV[a] or rev ~= tonumber(ARGV[a + 1]) then
    conflicts[#conflicts + 1] = tostring(i - 1)
  end
end
if #conflicts > 0 then
  return {'conflict', table.concat(conflicts, ',')}
end

local counts = {created = 0, updated = 0, duplicate = 0, stale = 0}
local function xadd(stream, maxlen, id, etype, blog, json)
  if maxlen > 0 then
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'id', id, 'type', etype, 'event', json)
  else
    redis.call('XADD', stream, '*', 'id', id, 'type', etype, 'event', json)
  end
end
for i = 1, n do
  local a = FIRST + (i - 1) * PER
  local key = KEYS[4 + i]
  local decision = ARGV[a]
  counts[decision] = counts[decision] + 1
  if decision == 'created' or decision == 'updated' then
    redis.call('HSET', key, 'rev', tonumber(ARGV[a + 1]) + 1, 'hash', ARGV[a + 2], 'seen', fetched,
      't', ARGV[a + 6], 'b', ARGV[a + 7], 'a', ARGV[a + 8], 'p', ARGV[a + 9])
    xadd(KEYS[3], maxlen_all, ARGV[a + 3], ARGV[a + 5], '', ARGV[a + 4])
    xadd(KEYS[4], maxlen_blog, ARGV[a + 3], ARGV[a + 5], '', ARGV[a + 4])
  elseif decision == 'duplicate' and fetched > seen_at[i] then
    redis.call('HSET', key, 'seen', fetched)
  end
  redis.call('EXPIRE', key, ttl)
end

local stats = KEYS[2]
redis.call('HINCRBY', stats, 'documents_processed', 1)
redis.call('HINCRBY', stats, 'posts_seen', n)
redis.call('HINCRBY', stats, 'posts_created', counts.created)
redis.call('HINCRBY', stats, 'posts_updated', counts.updated)
redis.call('HINCRBY', stats, 'posts_duplicate', counts.duplicate)
redis.call('HINCRBY', stats, 'posts_stale', counts.stale)
redis.call('HINCRBY', stats, 'events_published', counts.created + counts.updated)
local summary = ARGV[6]
redis.call('SET', done, summary, 'EX', ttl)
return {'ok', summary}
