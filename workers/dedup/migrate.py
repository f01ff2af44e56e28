"""Move a near-duplicate index stored as sets to the string layout (``liveblog migrate``).

Until the layout changed, every near-duplicate bucket (LSH band, headline or quote anchor)
was a set under ``<prefix>:lsh:<bucket>``; it is now a string under ``<prefix>:dup:<bucket>``
(workers/dedup/index.py). A worker of the new layout never reads the old keys, so posts
indexed before an upgrade would not be found as near-duplicates until their buckets expired
(``dedup_window_s``). This moves them: each old set becomes (or is merged into) its string,
keeping the longer of the two TTLs, and is deleted - one script call per batch, so a worker
committing meanwhile sees either the old state or the new and re-plans (its re-check of the
strings it read fails) rather than losing a ref. Running it twice moves nothing the second
time; story-grouping buckets (``n:``, ``r:``) are the same in both layouts and are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from schemas.keys import Keys

# KEYS: pairs (old set, new string). Returns {moved, merged, refs, skipped}: sets moved, of
# those the ones merged into a string a new worker had already started, refs written, and sets
# left in place because the new key holds something that is not a bucket string.
MOVE_LUA = """
local moved, merged, written, skipped = 0, 0, 0, 0
for i = 1, #KEYS, 2 do
  local old, new = KEYS[i], KEYS[i + 1]
  if redis.call('TYPE', old).ok == 'set' then
    local have = redis.pcall('GET', new)
    local ok, held = true, {}
    if type(have) == 'table' then
      ok = false  -- WRONGTYPE: not a string
    elseif have then
      ok, held = pcall(cjson.decode, '[' .. have .. ']')
    end
    if not ok then
      skipped = skipped + 1
    else
      local refs = redis.call('SMEMBERS', old)
      local ttl = redis.call('PTTL', old)
      local seen, parts = {}, {}
      if have then
        for _, ref in ipairs(held) do seen[ref] = true end
        parts[1] = have
        local left = redis.call('PTTL', new)
        if ttl >= 0 and (left < 0 or left > ttl) then ttl = left end
        merged = merged + 1
      end
      table.sort(refs)
      for _, ref in ipairs(refs) do
        if not seen[ref] then
          parts[#parts + 1] = cjson.encode(ref)
          written = written + 1
        end
      end
      if #parts > 0 then
        if ttl > 0 then
          redis.call('SET', new, table.concat(parts, ','), 'PX', ttl)
        else
          redis.call('SET', new, table.concat(parts, ','))
        end
      end
      redis.call('DEL', old)
      moved = moved + 1
    end
  end
end
return {moved, merged, written, skipped}
"""


@dataclass
class Migrated:
    scanned: int = 0  # set-layout bucket keys looked at (names and recent posts included)
    moved: int = 0  # near-duplicate sets turned into strings
    merged: int = 0  # of those, merged into a string a new worker had already written
    refs: int = 0  # refs written into strings
    skipped: int = 0  # sets left in place: their new key holds something that is not a bucket string

    def as_dict(self) -> dict[str, int]:
        return {"scanned": self.scanned, "moved": self.moved, "merged": self.merged, "refs": self.refs,
                "skipped": self.skipped}


def legacy_near_buckets(redis: Redis, keys: Keys, count: int = 1000):
    """(old key, new key) of each near-duplicate bucket still stored as a set."""
    marker = f"{keys.prefix}:lsh:"
    for key in redis.scan_iter(match=f"{_escaped(marker)}*", count=count):
        text = key.decode("utf-8") if isinstance(key, bytes) else key
        bucket = text[len(marker):]
        yield text, (None if bucket.startswith(("n:", "r:")) else keys.near(bucket))


def migrate(redis: Redis, keys: Keys, *, batch: int = 500, dry_run: bool = False) -> Migrated:
    """Move every near-duplicate set of ``keys.prefix`` to its string; see the module's doc."""
    out = Migrated()
    script = redis.register_script(MOVE_LUA)
    pending: list[str] = []

    def flush() -> None:
        if pending:
            moved, merged, refs, skipped = script(keys=pending)
            out.moved, out.merged, out.refs = out.moved + moved, out.merged + merged, out.refs + refs
            out.skipped += skipped
            pending.clear()

    for old, new in legacy_near_buckets(redis, keys):
        out.scanned += 1
        if new is None:
            continue
        if dry_run:
            out.moved += 1
            continue
        pending += [old, new]
        if len(pending) >= 2 * batch:
            flush()
    flush()
    return out


def _escaped(text: str) -> str:
    """``text`` as a literal inside a SCAN MATCH pattern."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
