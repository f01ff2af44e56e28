-- Commit one document atomically: decide created / updated / duplicate / stale for
-- every post against its stored state, retract posts that vanished from inside the
-- snapshot's span, index new posts for near-duplicate and story lookup, XADD the
-- events, move the counters, and mark the document done. Nothing is written unless
-- every decision the worker prepared still holds - post states, retraction
-- candidates and the near-duplicate buckets it read - otherwise the conflicting post
-- indexes are returned (empty for a bucket conflict) and the worker re-plans.
--
-- KEYS: 1 done marker, 2 stats hash, 3 global stream, 4 blog stream, 5 blog post index
--       (zset: post id by published ms), then n post hashes, r retracted post hashes,
--       m index buckets: first the z near-duplicate buckets (LSH bands, anchors: strings)
--       read empty, then the c read with members, then the set buckets, not re-checked
--       (names, the q topic buckets first, and recent posts), s story sets,
--       then the subscriptions version counter, t topic streams, and 3 per alert
--       (alert stream, per subscriber+story "alerted" marker, per subscriber+post "matched" marker),
--       then 1 per follow-up (its subscriber's alert stream)
-- ARGV: 1 fetched_at_ms, 2 ttl_s, 3 global maxlen, 4 blog maxlen, 5 n, 6 summary,
--       7 r, 8 m, 9 s, 10 index prune-before ms,
--       then per post: decision, expected revision, content hash, and for a created or
--       updated post (PER fields in all) also event id, event json, event type, title hash,
--       body hash, author, published, post id, ref, story id, repeat root, signature,
--       published ms, anchors, names, title, set bucket indexes (csv), story set index (0: none),
--       topic indexes (csv), then its near-duplicate buckets: how many of the z it writes first
--       and how many of the c (each post's come together, in the order of the posts), and the
--       indexes (csv) of those it shares with an earlier post of the document (usually none);
--       a duplicate or stale post has only the first SHORT fields
--       (on a re-polled page nearly every post: 3 arguments instead of 25);
--       then 3 per retraction: expected revision, event id, event json;
--       then z, c and the lengths of the c buckets as read (bytes);
--       then q (the topic buckets: name buckets read as larger than the rare limit, the q
--       buckets after the c) and the rare limit;
--       then the channels section at C (after them): expected subscriptions version ('*': no alerts, not checked), t,
--       topic maxlen, alert maxlen, a (alerts), notify channel, blog notify channel, blog id,
--       then 5 per alert: post index, alert id,
--       subscription, reasons (JSON), story id;
--       then f (follow-ups; absent: none) and 9 per follow-up: 'p' (an updated post) or 'r' (a
--       retraction), its index, follow-up id, subscription, kind, original alert id, changes (JSON),
--       reasons (JSON, 'null': the revision does not match), story id
local done = KEYS[1]
if redis.call('EXISTS', done) == 1 then
  return {'done', redis.call('GET', done)}
end
-- numbers that only go back to Redis stay the strings they came as: a Lua number passed to
-- redis.call is formatted again (sprintf), for every EXPIRE and XADD
local fetched = tonumber(ARGV[1])
local ttl = ARGV[2]
local function cap(maxlen) return tonumber(maxlen) > 0 and maxlen or nil end  -- nil: no MAXLEN
local maxlen_all = cap(ARGV[3])
local maxlen_blog = cap(ARGV[4])
local n = tonumber(ARGV[5])
local r = tonumber(ARGV[7])
local m = tonumber(ARGV[8])
local s = tonumber(ARGV[9])
local prune_before = tonumber(ARGV[10])
local PER, SHORT = 25, 3
local FIRST = 11
-- where each post's fields start: the decision (its first field) says how many it has
local at = {}
local RFIRST = FIRST
for i = 1, n do
  at[i] = RFIRST
  local d = ARGV[RFIRST]
  RFIRST = RFIRST + ((d == 'created' or d == 'updated') and PER or SHORT)
end
local BFIRST = RFIRST + r * 3
local POSTS, RETRACT, BUCKETS, STORIES = 5, 5 + n, 5 + n + r, 5 + n + r + m
local index = KEYS[5]
local z, c = tonumber(ARGV[BFIRST]), tonumber(ARGV[BFIRST + 1])
local q, rare_max = tonumber(ARGV[BFIRST + 2 + c]), tonumber(ARGV[BFIRST + 3 + c])
local C = BFIRST + 4 + c
local t = tonumber(ARGV[C + 1])
local maxlen_topic = cap(ARGV[C + 2])
local maxlen_alert = cap(ARGV[C + 3])
local a_count = tonumber(ARGV[C + 4])
local VERSION = 5 + n + r + m + s + 1
local TOPICS, ALERTS = VERSION, VERSION + t
local AFIRST = C + 8
local FFIRST = AFIRST + a_count * 5
local f_count = tonumber(ARGV[FFIRST] or '0')
local FOLLOWUPS = ALERTS + a_count * 3

-- a post's 'al' field: the alerts it produced, 'subscriber=alert id' joined by ',' (written with
-- the alert, below); it changes only in a commit that writes the post, so the revision re-check
-- also re-checks what the worker read of it to plan follow-ups
local alerted_by = {}
local function decide(i, key, hash)
  local cur = redis.call('HMGET', key, 'rev', 'hash', 'seen', 'x', 'al')
  local rev = tonumber(cur[1]) or 0
  alerted_by[i] = cur[5]
  if rev == 0 then return 'created', rev, 0 end
  local seen = tonumber(cur[3]) or 0
  if cur[4] == '1' then
    if fetched < seen then return 'stale', rev, seen end
    return 'updated', rev, seen
  end
  if cur[2] == hash then return 'duplicate', rev, seen end
  if fetched < seen then return 'stale', rev, seen end
  return 'updated', rev, seen
end

local conflicts = {}
local seen_at = {}
for i = 1, n do
  local a = at[i]
  local decision, rev, seen = decide(i, KEYS[POSTS + i], ARGV[a + 2])
  seen_at[i] = seen
  if decision ~= ARGV[a] or rev ~= tonumber(ARGV[a + 1]) then
    conflicts[#conflicts + 1] = tostring(i - 1)
  end
end
if #conflicts > 0 then
  return {'conflict', table.concat(conflicts, ',')}
end
for j = 1, r do
  local cur = redis.call('HMGET', KEYS[RETRACT + j], 'rev', 'seen', 'x')
  if (tonumber(cur[1]) or 0) ~= tonumber(ARGV[RFIRST + (j - 1) * 3]) or cur[3] == '1'
      or (tonumber(cur[2]) or 0) >= fetched then
    return {'conflict', ''}
  end
end
-- the near-duplicate buckets read empty (most LSH bands) must still not exist, which one
-- EXISTS per 1,000 of them asks; those read with members must be as long still (refs are only
-- appended, or the bucket expires whole)
for first = 1, z, 1000 do
  if redis.call('EXISTS', unpack(KEYS, BUCKETS + first, BUCKETS + math.min(first + 999, z))) > 0 then
    return {'conflict', ''}
  end
end
for j = 1, c do
  if redis.call('STRLEN', KEYS[BUCKETS + z + j]) ~= tonumber(ARGV[BFIRST + 1 + j]) then
    return {'conflict', ''}
  end
end

if ARGV[C] ~= '*' and (redis.call('GET', KEYS[VERSION]) or '0') ~= ARGV[C] then
  return {'conflict', ''}  -- subscriptions changed since the plan: re-plan with the new set
end

local counts = {created = 0, updated = 0, duplicate = 0, stale = 0}
local repeats = 0
local function xadd(stream, maxlen, id, etype, json)
  if maxlen then
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'id', id, 'type', etype, 'event', json)
  else
    redis.call('XADD', stream, '*', 'id', id, 'type', etype, 'event', json)
  end
end
local function publish(id, etype, json, topics)
  xadd(KEYS[3], maxlen_all, id, etype, json)
  xadd(KEYS[4], maxlen_blog, id, etype, json)
  if topics then
    for k in string.gmatch(topics, '[^,]+') do
      xadd(KEYS[TOPICS + tonumber(k)], maxlen_topic, id, etype, json)
    end
  end
  -- a hint for live pages, never the only copy: a refused PUBLISH (ACL) must not undo the commit
  local note = cjson.encode({id = id, blog = ARGV[C + 7], type = etype})
  redis.pcall('PUBLISH', ARGV[C + 6], note)
  redis.pcall('PUBLISH', ARGV[C + 5], note)
end
-- A topic bucket (a name on more than rare_max posts) is only ever asked its size, and sets
-- only grow or expire whole: past rare_max + 1 members, adding more changes no reader's
-- answer, so it is not done (one SCARD per topic per document instead of an SADD per post
-- naming it, and a topic's set no longer holds every post that names it). A topic bucket
-- that expired since the read and was started again by another commit is small: added to.
local topic_full = {}
local function is_full(b)
  local full = topic_full[b]
  if full == nil then
    full = redis.call('SCARD', KEYS[BUCKETS + b]) > rare_max
    topic_full[b] = full
  end
  return full
end
-- near-duplicate buckets are strings of JSON-quoted refs joined by ',': a new one is one SET
-- with its TTL, one read with members is appended to (its TTL: after the posts)
local z_at, c_at = 0, z
local function index_new_post(a)
  local ref = ARGV[a + 11]
  local quoted = cjson.encode(ref)
  for b = z_at + 1, z_at + tonumber(ARGV[a + 22]) do
    redis.call('SET', KEYS[BUCKETS + b], quoted, 'EX', ttl)
  end
  z_at = z_at + tonumber(ARGV[a + 22])
  for b = c_at + 1, c_at + tonumber(ARGV[a + 23]) do
    redis.call('APPEND', KEYS[BUCKETS + b], ',' .. quoted)
  end
  c_at = c_at + tonumber(ARGV[a + 23])
  for bs in string.gmatch(ARGV[a + 24], '[^,]+') do
    redis.call('APPEND', KEYS[BUCKETS + tonumber(bs)], ',' .. quoted)
  end
  for bs in string.gmatch(ARGV[a + 19], '[^,]+') do  -- its set buckets
    local b = tonumber(bs)
    if not (b <= z + c + q and is_full(b)) then
      redis.call('SADD', KEYS[BUCKETS + b], ref)
    end
  end
  local story = tonumber(ARGV[a + 20])
  if story > 0 then redis.call('SADD', KEYS[STORIES + story], ref) end
  if ARGV[a + 13] ~= ARGV[a + 10] then repeats = repeats + 1 end
end

for i = 1, n do
  local a = at[i]
  local key = KEYS[POSTS + i]
  local decision = ARGV[a]
  counts[decision] = counts[decision] + 1
  if decision == 'created' or decision == 'updated' then
    redis.call('HSET', key, 'rev', tonumber(ARGV[a + 1]) + 1, 'hash', ARGV[a + 2], 'seen', fetched,
      't', ARGV[a + 6], 'b', ARGV[a + 7], 'a', ARGV[a + 8], 'p', ARGV[a + 9],
      'st', ARGV[a + 12], 'rr', ARGV[a + 13], 'sig', ARGV[a + 14], 'ts', ARGV[a + 15],
      'an', ARGV[a + 16], 'nm', ARGV[a + 17], 'tt', ARGV[a + 18])
    redis.call('HDEL', key, 'x')
    redis.call('ZADD', index, ARGV[a + 15], ARGV[a + 10])
    publish(ARGV[a + 3], ARGV[a + 5], ARGV[a + 4], ARGV[a + 21])
    if decision == 'created' then index_new_post(a) end
  elseif decision == 'duplicate' and fetched > seen_at[i] then
    redis.call('HSET', key, 'seen', fetched)
  end
  redis.call('EXPIRE', key, ttl)
end
for j = 1, r do
  local a = RFIRST + (j - 1) * 3
  redis.call('HSET', KEYS[RETRACT + j], 'x', '1', 'seen', fetched)
  redis.call('EXPIRE', KEYS[RETRACT + j], ttl)
  publish(ARGV[a + 1], 'liveblog.post.retracted', ARGV[a + 2], nil)
end

-- alerts: one per subscriber per story, and an edit only when it newly matches
local alerts, suppressed = 0, 0
local now_alerted = {}  -- post index -> its 'al' field with the alerts of this commit added
for k = 1, a_count do
  local b = AFIRST + (k - 1) * 5
  local i = tonumber(ARGV[b])
  local post = at[i]
  local stream, alerted, matched = KEYS[ALERTS + (k - 1) * 3 + 1], KEYS[ALERTS + (k - 1) * 3 + 2], KEYS[ALERTS + (k - 1) * 3 + 3]
  if redis.call('SET', matched, '1', 'NX', 'EX', ttl) then
    if redis.call('SET', alerted, ARGV[b + 1], 'NX', 'EX', ttl) then
      local fields = {'id', ARGV[b + 1], 'event_id', ARGV[post + 3], 'subscription', ARGV[b + 2],
        'story_id', ARGV[b + 4], 'type', ARGV[post + 5], 'rule', ARGV[b + 3], 'event', ARGV[post + 4]}
      if maxlen_alert then
        redis.call('XADD', stream, 'MAXLEN', '~', maxlen_alert, '*', unpack(fields))
      else
        redis.call('XADD', stream, '*', unpack(fields))
      end
      local before = now_alerted[i] or alerted_by[i]
      now_alerted[i] = (before and (before .. ',') or '') .. ARGV[b + 2] .. '=' .. ARGV[b + 1]
      alerts = alerts + 1
    else
      suppressed = suppressed + 1
    end
  else
    redis.call('EXPIRE', matched, ttl)
  end
end
for i, al in pairs(now_alerted) do
  redis.call('HSET', KEYS[POSTS + i], 'al', al)
end

-- follow-ups: a post that alerted a subscriber was corrected, retracted or restored. Bound to the
-- event this commit publishes (once: the done marker and the revision re-check), so once each
local followups, by_kind = 0, {}
for k = 1, f_count do
  local b = FFIRST + 1 + (k - 1) * 9
  local idx = tonumber(ARGV[b + 1])
  local event_id, event_json, etype
  if ARGV[b] == 'p' then
    local a = at[idx]
    event_id, event_json, etype = ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  else
    local a = RFIRST + (idx - 1) * 3
    event_id, event_json, etype = ARGV[a + 1], ARGV[a + 2], 'liveblog.post.retracted'
  end
  local fields = {'id', ARGV[b + 2], 'kind', ARGV[b + 4], 'original_id', ARGV[b + 5], 'event_id', event_id,
    'subscription', ARGV[b + 3], 'story_id', ARGV[b + 8], 'type', etype, 'rule', ARGV[b + 7],
    'changes', ARGV[b + 6], 'event', event_json}
  if maxlen_alert then
    redis.call('XADD', KEYS[FOLLOWUPS + k], 'MAXLEN', '~', maxlen_alert, '*', unpack(fields))
  else
    redis.call('XADD', KEYS[FOLLOWUPS + k], '*', unpack(fields))
  end
  followups = followups + 1
  by_kind[ARGV[b + 4]] = (by_kind[ARGV[b + 4]] or 0) + 1
end

for j = z + 1, m + s do
  redis.call('EXPIRE', KEYS[BUCKETS + j], ttl)  -- a no-op on a key that does not exist
end
redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. prune_before)
if redis.call('EXISTS', index) == 1 then redis.call('EXPIRE', index, ttl) end

local stats = KEYS[2]
redis.call('HINCRBY', stats, 'documents_processed', 1)
redis.call('HINCRBY', stats, 'posts_seen', n)
redis.call('HINCRBY', stats, 'posts_created', counts.created)
redis.call('HINCRBY', stats, 'posts_updated', counts.updated)
redis.call('HINCRBY', stats, 'posts_duplicate', counts.duplicate)
redis.call('HINCRBY', stats, 'posts_stale', counts.stale)
redis.call('HINCRBY', stats, 'posts_repeat', repeats)
redis.call('HINCRBY', stats, 'posts_retracted', r)
redis.call('HINCRBY', stats, 'events_published', counts.created + counts.updated + r)
redis.call('HINCRBY', stats, 'alerts_matched', alerts)
redis.call('HINCRBY', stats, 'alerts_suppressed', suppressed)
if followups > 0 then  -- no follow-up, no call: the common case stays as cheap as it was
  redis.call('HINCRBY', stats, 'alerts_followups', followups)
  for kind, count in pairs(by_kind) do redis.call('HINCRBY', stats, 'alerts_followups_' .. kind, count) end
end
local summary = ARGV[6]
redis.call('SET', done, summary, 'EX', ttl)
return {'ok', summary}
