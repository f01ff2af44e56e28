"""The benchmark harness behind ``liveblog bench`` and ``bench/run.py``.

The corpus generator and the naive baseline are :mod:`liveblog.benchkit`, installed with
the package, so ``liveblog bench`` runs from a wheel as well as from a checkout. The CLI
command and the thin ``bench/run.py`` script share this one implementation.

Every scenario runs against a flushed database on a private ``redis-server`` started
on a free loopback port (or on ``REDIS_URL`` when it is set — that database is
FLUSHED, so the bench refuses one that holds keys unless ``--flush`` says it may).
Workers are real processes:
``python -m liveblog.cli worker --burst --processes N`` for liveblog-stream and
``python -m liveblog.benchkit.naive worker --burst`` (×N) for the baseline.

Scenarios (one run, same generated corpus family, same machine):

* **naive** — one RQ job per post, default forking ``rq.Worker`` (see :mod:`liveblog.benchkit.naive`).
* **new** — all-new posts with full enrichment, at 1, 2 and N (= CPU count) processes.
* **repoll** — a page polled again and again (≥ 90 % duplicates), after a priming poll.
* **latency** — documents submitted at a fixed rate while 2 workers run (not burst):
  per event, latency = ms part of its stream entry id (the XADD time, Redis clock)
  − the time the bench called ``submit`` (same host clock). ``parts_ms`` splits each
  document's latency: the producer's submit, from accepted to the job's start (waiting for a
  worker, RQ), and the job's own work up to its last event (``latency_parts``).

Throughput is posts parsed per second. Two windows are reported for every burst run:
``*_posts_per_s`` = from the first job's start to the end of the last one (max of last
job ``ended_at`` and last event XADD time): the steady processing rate of warm-started
processes; ``*_wall_posts_per_s`` = from the first enqueue to that same end, which adds
enqueueing and worker start-up (interpreter + imports), a fixed cost per launch reported
as ``*_startup_s``. Ratios are computed on the processing window (and on wall, ``*_wall``).
"""

from __future__ import annotations

import bisect
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import redis

from liveblog import redis_server

ROOT = Path(__file__).resolve().parents[1]

REQUIRED_KEYS = (
    "naive_posts_per_s", "new_posts_per_s", "repoll_posts_per_s", "ratio_new", "ratio_repoll",
    "scaling_2_vs_1", "latency_p50_ms", "latency_p99_ms", "worker_peak_rss_mb",
)


@dataclass
class Plan:
    """Sizes of one run. ``--quick``: the whole run in 35-47 s on the 2-core machines of rounds
    10, 11, 13 and 14, 54 s in round 16 on a machine a quarter slower (1,000 all-new and 120 naive
    posts since then: 1,200 and 150 took 59 s there; docs/performance.md; round 12's 3 min 23 s
    included the naive workers' minute-long exits that ``QuickUnsubscribe`` removed)."""

    new_posts: int = 6000
    new_page_posts: int = 20
    naive_posts: int = 600
    repoll_blogs: int = 20
    repoll_polls: int = 40
    repoll_page_posts: int = 40
    repoll_new_per_poll: int = 2
    latency_rate_posts_s: float = 200.0
    latency_doc_posts: int = 5
    latency_seconds: float = 10.0
    latency_processes: int = 2
    process_counts: tuple[int, ...] = (1, 2)
    seed: int = 1

    @classmethod
    def make(cls, posts: int | None, quick: bool) -> Plan:
        n = os.cpu_count() or 1
        counts = tuple(sorted({1, 2, n}))
        if quick:
            plan = cls(new_posts=1000, naive_posts=120, repoll_blogs=8, repoll_polls=20, latency_seconds=4.0,
                       process_counts=counts)
        else:
            plan = cls(process_counts=counts)
        if posts:
            plan.new_posts = max(posts, plan.new_page_posts)
            plan.naive_posts = max(min(plan.naive_posts, posts), 10)
            # keep the re-poll corpus near the same number of posts
            per_blog = plan.repoll_page_posts * plan.repoll_polls
            plan.repoll_blogs = max(1, min(plan.repoll_blogs, round(posts * 4 / per_blog)))
            if posts < 1000:  # tiny runs (smoke tests): short re-poll and latency phases too
                plan.repoll_polls = max(3, min(plan.repoll_polls, posts // 10))
                plan.latency_seconds = min(plan.latency_seconds, max(1.0, 2 * posts / plan.latency_rate_posts_s))
        return plan


# --------------------------------------------------------------------------- redis-server


class PrivateRedis(redis_server.PrivateRedis):
    """The shared private server, in a temporary directory removed on stop."""

    def __init__(self) -> None:
        super().__init__(Path(tempfile.mkdtemp(prefix="liveblog-bench-redis-")))

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


# --------------------------------------------------------------------------- process helpers


class RssSampler:
    """Peak RSS of a process tree: VmHWM (kernel high-water mark) sampled every 50 ms, and
    the tree's CPU time at each sample (see ``cpu_s``).

    psutil when installed (descendants + memory_info), else /proc/<pid>/status and
    /proc/<pid>/task/*/children. ``exclude`` drops the supervisor of ``--processes N``
    from the RSS peak (its CPU time counts).
    """

    def __init__(self, root_pid: int, exclude_root: bool, redis_conn: redis.Redis | None = None) -> None:
        self.root = root_pid
        self.exclude_root = exclude_root
        self.peaks: dict[int, int] = {}
        self.cpu: list[tuple[float, float]] = []  # (time.time(), CPU seconds of the tree so far)
        self.redis_conn = redis_conn  # also sample the server's CPU time (INFO cpu), when given
        self.redis_cpu: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _pids(self) -> list[int]:
        try:
            import psutil

            proc = psutil.Process(self.root)
            return [self.root, *(c.pid for c in proc.children(recursive=True))]
        except ImportError:
            out, todo = [], [self.root]
            while todo:
                pid = todo.pop()
                out.append(pid)
                for task in Path(f"/proc/{pid}/task").glob("*"):
                    try:
                        todo.extend(int(x) for x in (task / "children").read_text().split())
                    except OSError:
                        pass
            return out
        except Exception:
            return []

    @staticmethod
    def _hwm_kb(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def sample(self) -> None:
        pids = self._pids()
        for pid in pids:
            if self.exclude_root and pid == self.root:
                continue
            kb = self._hwm_kb(pid)
            if kb > self.peaks.get(pid, 0):
                self.peaks[pid] = kb
        if pids:
            self.cpu.append((time.time(), sum(_tree_cpu_s(pid) for pid in pids)))
        if self.redis_conn is not None:
            try:
                self.redis_cpu.append((time.time(), _redis_cpu_s(self.redis_conn)))
            except redis.RedisError:
                pass

    def cpu_s(self, start: float, end: float) -> float:
        """CPU seconds the tree spent between two ``time.time()`` instants (see ``_between``)."""
        return _between(self.cpu, start, end)

    def redis_cpu_s(self, start: float, end: float) -> float:
        return _between(self.redis_cpu, start, end)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.05)

    @property
    def peak_mb(self) -> float:
        return round(max(self.peaks.values(), default=0) / 1024, 1)


def _between(samples: list[tuple[float, float]], start: float, end: float) -> float:
    """The growth of a sampled counter between two instants: the difference of the last
    samples taken at or before each (at most one sampling interval early, so the error is
    a few tens of ms per process however long the window). ``samples`` are in time order."""
    if not samples:
        return 0.0
    times = [when for when, _ in samples]

    def at(t: float) -> float:
        return samples[max(bisect.bisect_right(times, t) - 1, 0)][1]

    return max(at(end) - at(start), 0.0)


_TICK_S = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01


def _tree_cpu_s(pid: int) -> float:
    """utime + stime of the process and cutime + cstime of the children it has waited for
    (/proc/<pid>/stat). Summed over the live processes of a tree at one instant this counts
    every process once: alive in its own times, exited in its parent's child times (a
    forking worker's horses too, which live shorter than the sampling interval)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": state is fields[0]
    try:
        return sum(int(fields[i]) for i in (11, 12, 13, 14)) * _TICK_S
    except (IndexError, ValueError):
        return 0.0


def _redis_cpu_s(conn: redis.Redis) -> float:
    cpu = conn.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RQ_REDIS_URL")}
    env["REDIS_URL"] = url
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _log(path: Path):
    return open(path, "ab")


# --------------------------------------------------------------------------- measurement helpers


def _rq_time(value: bytes | None) -> float | None:
    if not value:
        return None
    text = value.decode()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def _job_window(conn: redis.Redis, job_ids: list[str]) -> tuple[float | None, float | None, int]:
    """(first started_at, last ended_at, jobs found) over the given RQ jobs."""
    starts, ends = [], []
    for i in range(0, len(job_ids), 1000):
        with conn.pipeline(transaction=False) as pipe:
            for jid in job_ids[i:i + 1000]:
                pipe.hmget(f"rq:job:{jid}", "started_at", "ended_at")
            for s, e in pipe.execute():
                if (t := _rq_time(s)) is not None:
                    starts.append(t)
                if (t := _rq_time(e)) is not None:
                    ends.append(t)
    return (min(starts) if starts else None), (max(ends) if ends else None), len(ends)


def _last_event_s(conn: redis.Redis, stream: str = "liveblog:events") -> float | None:
    rows = conn.xrevrange(stream, count=1)
    return int(rows[0][0].split(b"-")[0]) / 1000 if rows else None


def _commands(conn: redis.Redis) -> int:
    return int(conn.info("stats")["total_commands_processed"])


def _counters(conn: redis.Redis) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in conn.hgetall("liveblog:stats").items()}


@dataclass
class Burst:
    name: str
    processes: int
    posts: int
    documents: int
    enqueue_s: float
    startup_s: float
    processing_s: float
    wall_s: float
    redis_commands: int
    peak_rss_mb: float
    counters: dict = field(default_factory=dict)
    profile: dict = field(default_factory=dict)  # ms per post by stage, from the workers' job_done lines
    cpu_workers_s: float = 0.0  # CPU time of the worker processes (and their horses) in the processing window
    cpu_redis_s: float = 0.0  # CPU time of redis-server in the same window
    repeats: list[float] = field(default_factory=list)  # posts/s of each run, when several were combined

    @classmethod
    def combined(cls, runs: list[Burst]) -> Burst:
        """Repeated runs of one scenario as one: posts, documents, times, commands and CPU
        summed (its rate is every post over every run's processing window), the stage profile
        weighted by posts, the highest peak RSS, and ``repeats`` holding each run's rate."""
        if len(runs) == 1:
            return runs[0]
        posts = sum(b.posts for b in runs)
        profile: dict[str, float] = {}
        counters: dict[str, int] = {}
        for b in runs:
            for stage, ms in b.profile.items():
                profile[stage] = profile.get(stage, 0.0) + ms * b.posts
            for name, value in b.counters.items():
                counters[name] = counters.get(name, 0) + value
        return cls(
            name=runs[0].name, processes=runs[0].processes, posts=posts, documents=sum(b.documents for b in runs),
            enqueue_s=sum(b.enqueue_s for b in runs), startup_s=sum(b.startup_s for b in runs) / len(runs),
            processing_s=sum(b.processing_s for b in runs), wall_s=sum(b.wall_s for b in runs),
            redis_commands=sum(b.redis_commands for b in runs), peak_rss_mb=max(b.peak_rss_mb for b in runs),
            counters=counters, profile={k: round(v / max(posts, 1), 3) for k, v in profile.items()},
            cpu_workers_s=sum(b.cpu_workers_s for b in runs), cpu_redis_s=sum(b.cpu_redis_s for b in runs),
            repeats=[round(b.posts_per_s, 1) for b in runs],
        )

    @property
    def posts_per_s(self) -> float:
        return self.posts / self.processing_s if self.processing_s > 0 else 0.0

    @property
    def wall_posts_per_s(self) -> float:
        return self.posts / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "processes": self.processes, "posts": self.posts, "documents": self.documents,
            "posts_per_s": round(self.posts_per_s, 1), "wall_posts_per_s": round(self.wall_posts_per_s, 1),
            "processing_s": round(self.processing_s, 3), "wall_s": round(self.wall_s, 3),
            "enqueue_s": round(self.enqueue_s, 3), "startup_s": round(self.startup_s, 3),
            "redis_commands_per_post": round(self.redis_commands / max(self.posts, 1), 2),
            "peak_rss_mb": self.peak_rss_mb, "counters": self.counters, "ms_per_post": self.profile,
            "cpu_ms_per_post": self.cpu_per_post(),
            **({"repeats_posts_per_s": self.repeats} if self.repeats else {}),
        }

    def cpu_per_post(self, cores: int | None = None) -> dict[str, float]:
        """CPU ms per post in the processing window: the workers', redis-server's, their sum,
        and the share of the ``cores`` (default: the machine's) they kept busy (``busy``:
        1.0 = every core)."""
        posts = max(self.posts, 1)
        total = self.cpu_workers_s + self.cpu_redis_s
        cores = cores or os.cpu_count() or 1
        return {
            "workers": round(self.cpu_workers_s * 1000 / posts, 3),
            "redis": round(self.cpu_redis_s * 1000 / posts, 3),
            "total": round(total * 1000 / posts, 3),
            "busy": round(total / (self.processing_s * cores), 2) if self.processing_s > 0 else 0.0,
        }


def job_done_entries(log_lines):
    """The ``job_done`` entries of a workers' JSON log, as dicts; RQ's own lines and anything
    else that is not one JSON object are skipped."""
    for line in log_lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == "job_done":
            yield entry


def job_profile(log_lines, posts: int, processes: int, processing_s: float) -> dict[str, float]:
    """Where a burst's time went, in ms per post: each stage's wall time summed over the
    ``job_done`` lines of the workers' JSON log (``stage_ms``), ``job`` = their whole
    durations, and ``outside_jobs`` = the worker-time of the processing window not spent
    in a job (RQ's dequeue and bookkeeping, the job's own Redis counters, waiting for
    the CPU that Redis and the other workers hold)."""
    stages: dict[str, float] = {}
    job_ms = 0.0
    for entry in job_done_entries(log_lines):
        job_ms += float(entry.get("duration_ms") or 0)
        for stage, ms in (entry.get("stage_ms") or {}).items():
            stages[stage] = stages.get(stage, 0.0) + float(ms)
    if not posts:
        return {}
    out = {k: round(v / posts, 3) for k, v in sorted(stages.items(), key=lambda kv: -kv[1])}
    out["job"] = round(job_ms / posts, 3)
    out["outside_jobs"] = round(max(processing_s * processes * 1000 - job_ms, 0.0) / posts, 3)
    return out


def scaling_order(counts: tuple[int, ...]) -> list[int]:
    """The order of the all-new runs: each process count once, then 2 and 1 again (1, 2, N, 2, 1).
    The machine's speed drifts during a run (other tenants, clocks): measured 1, 2 only, the
    scaling ratio moved 1.58-1.86 between runs of one code. Run 1, 2, 2, 1, a linear drift
    weighs on both counts alike, so their combined rates (Burst.combined) cancel it."""
    order = list(counts)
    return order + [n for n in (2, 1) if n in counts] if {1, 2} <= set(counts) else order


# --------------------------------------------------------------------------- scenarios


class Harness:
    def __init__(self, url: str, plan: Plan, workdir: Path, progress=None) -> None:
        self.url = url
        self.plan = plan
        self.conn = redis.Redis.from_url(url)
        self.workdir = workdir
        from liveblog.benchkit import corpus, naive

        self.corpus = corpus
        self.naive = naive
        self.progress = progress or (lambda msg: None)
        self.base_time = datetime(2024, 10, 12, 20, 0, tzinfo=timezone.utc)
        self._runs: dict[str, int] = {}

    # -- liveblog-stream
    def _tag(self, base: str) -> str:
        """``base`` the first time, ``base-2``, ``base-3``... for the runs repeated after it."""
        self._runs[base] = self._runs.get(base, 0) + 1
        return base if self._runs[base] == 1 else f"{base}-{self._runs[base]}"

    def _settings(self):
        from schemas.settings import Settings

        return Settings.from_env({"REDIS_URL": self.url})

    def _submit_pages(self, pages: list[tuple[str, str]], offset_s: int = 0) -> tuple[list[str], int]:
        from producers.enqueue import job_id_for, submit
        from schemas.documents import RawDocument

        settings = self._settings()
        job_ids, posts = [], 0
        for i, (blog_id, text) in enumerate(pages):
            raw = RawDocument.from_bytes(text.encode("utf-8"), blog_id=blog_id, source=f"bench://{blog_id}",
                                         fetched_at=self.base_time + timedelta(seconds=offset_s + i))
            submit(self.conn, raw, settings)
            job_ids.append(job_id_for(raw.document_id))
        return job_ids, posts

    def _run_liveblog_workers(self, processes: int, tag: str) -> tuple[float, RssSampler]:
        """Burst workers until the queue is empty. Returns (launch time, the sampler: peak RSS, CPU)."""
        cmd = [sys.executable, "-m", "liveblog.cli", "--log-format", "json", "worker", "--burst",
               "--processes", str(processes)]
        with _log(self.workdir / f"{tag}.log") as log:
            launched = time.time()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(self.url), stdout=log, stderr=log)
            with RssSampler(proc.pid, exclude_root=processes > 1, redis_conn=self.conn) as rss:
                code = proc.wait(600)
                rss.sample()
        if code != 0:
            raise RuntimeError(f"liveblog worker exited {code}; see {self.workdir / (tag + '.log')}")
        return launched, rss

    def liveblog_burst(self, name: str, pages: list[tuple[str, str]], processes: int, *, expected_posts: int,
                       prime: list[tuple[str, str]] | None = None) -> Burst:
        self.conn.flushdb()
        self.flushed_memory = int(self.conn.info("memory")["used_memory"])
        if prime:
            self._submit_pages(prime)
            self._run_liveblog_workers(max(processes, 1), f"{name}-prime")
        before = _counters(self.conn)
        cmd0 = _commands(self.conn)
        t0 = time.time()
        job_ids, _ = self._submit_pages(pages, offset_s=len(prime or []) + 10)
        enqueued = time.time()
        tag = self._tag(f"{name}-{processes}")  # a log of its own: its job_done lines are this run's profile
        launched, sampler = self._run_liveblog_workers(processes, tag)
        cmds = _commands(self.conn) - cmd0
        first_start, last_end, found = _job_window(self.conn, job_ids)
        last_event = _last_event_s(self.conn)
        end = max(x for x in (last_end, last_event) if x is not None)
        after = _counters(self.conn)
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        posts = delta.get("posts_seen", 0)
        if posts != expected_posts or delta.get("documents_dead_lettered", 0):
            raise RuntimeError(f"{name}: expected {expected_posts} posts processed, counters say {delta}")
        processing_s = end - (first_start or launched)
        log = (self.workdir / f"{tag}.log").read_text("utf-8", errors="replace").splitlines()
        return Burst(name=name, processes=processes, posts=posts, documents=len(pages), enqueue_s=enqueued - t0,
                     startup_s=(first_start or launched) - launched, processing_s=processing_s,
                     wall_s=end - t0, redis_commands=cmds, peak_rss_mb=sampler.peak_mb, counters=delta,
                     profile=job_profile(log, posts, processes, processing_s),
                     cpu_workers_s=sampler.cpu_s(first_start or launched, end),
                     cpu_redis_s=sampler.redis_cpu_s(first_start or launched, end))

    # -- naive baseline
    def naive_burst(self, posts: list[tuple[str, str]], processes: int) -> Burst:
        self.conn.flushdb()
        cmd0 = _commands(self.conn)
        t0 = time.time()
        job_ids = self.naive.enqueue(self.conn, posts, self.base_time)
        enqueued = time.time()
        cmd = [sys.executable, "-m", "liveblog.benchkit.naive", "worker", "--burst"]
        procs = []
        with _log(self.workdir / f"naive-{processes}.log") as log:
            launched = time.time()
            procs = [subprocess.Popen(cmd, cwd=ROOT, env=_env(self.url), stdout=log, stderr=log)
                     for _ in range(processes)]
            samplers = [RssSampler(p.pid, exclude_root=False, redis_conn=self.conn if i == 0 else None).__enter__()
                        for i, p in enumerate(procs)]
            codes = [p.wait(900) for p in procs]
            for s in samplers:
                s.__exit__(None, None, None)
        if any(codes):
            raise RuntimeError(f"naive worker exited {codes}; see {self.workdir}/naive-{processes}.log")
        cmds = _commands(self.conn) - cmd0
        first_start, last_end, found = _job_window(self.conn, job_ids)
        last_event = _last_event_s(self.conn)
        end = max(x for x in (last_end, last_event) if x is not None)
        events = self.conn.xlen("liveblog:events")
        if found != len(posts) or events != len(posts):
            raise RuntimeError(f"naive: {len(posts)} jobs, {found} finished, {events} events")
        start = first_start or launched
        return Burst(name="naive", processes=processes, posts=len(posts), documents=len(posts),
                     enqueue_s=enqueued - t0, startup_s=start - launched,
                     processing_s=end - start, wall_s=end - t0, redis_commands=cmds,
                     peak_rss_mb=max(s.peak_mb for s in samplers), counters={"events": events},
                     cpu_workers_s=sum(s.cpu_s(start, end) for s in samplers),
                     cpu_redis_s=samplers[0].redis_cpu_s(start, end))

    # -- Redis memory of dedup state
    def dedup_memory(self, posts: int) -> dict:
        """After a run: drop streams and RQ keys, what remains is dedup state (+ counters)."""
        used_before = int(self.conn.info("memory")["used_memory"])
        drop = [k for k in self.conn.scan_iter(match="rq:*", count=1000)]
        drop += [k for k in self.conn.scan_iter(match="liveblog:*events", count=1000)]
        for i in range(0, len(drop), 500):
            self.conn.delete(*drop[i:i + 500])
        post_keys = list(self.conn.scan_iter(match="liveblog:{*}:post:*", count=1000))
        sample = post_keys[:: max(1, len(post_keys) // 200)]
        per_key = statistics.mean(self.conn.memory_usage(k) or 0 for k in sample) if sample else 0
        used_after = int(self.conn.info("memory")["used_memory"])
        return {"used_memory_flushed": self.flushed_memory, "used_memory_after_run": used_before,
                "used_memory_dedup_only": used_after,
                "post_keys": len(post_keys), "memory_usage_per_post_key": round(per_key, 1), "posts": posts}

    # -- steady-rate latency
    def latency(self) -> dict:
        plan = self.plan
        self.conn.flushdb()
        used0 = int(self.conn.info("memory")["used_memory"])
        from producers.enqueue import submit
        from schemas.documents import RawDocument

        settings = self._settings()
        docs_per_s = plan.latency_rate_posts_s / plan.latency_doc_posts
        n_docs = max(1, int(docs_per_s * plan.latency_seconds))
        warm = max(4, 2 * plan.latency_processes)
        pages = self.corpus.new_pages(n_docs + warm, 1, plan.latency_doc_posts, seed=plan.seed + 7, prefix="lat")
        cmd = [sys.executable, "-m", "liveblog.cli", "--log-format", "json", "worker",
               "--processes", str(plan.latency_processes)]
        log = _log(self.workdir / "latency.log")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(self.url), stdout=log, stderr=log)
        sampler = RssSampler(proc.pid, exclude_root=plan.latency_processes > 1).__enter__()
        try:
            # warm-up: enough documents that every worker has run one (enrichers load on first use)
            for blog_id, text in pages[:warm]:
                submit(self.conn, RawDocument.from_bytes(text.encode(), blog_id=blog_id, source="bench://warm",
                                                         fetched_at=datetime.now(timezone.utc)), settings)
            self._wait_processed(warm, 120)
            time.sleep(0.5)
            cursor = self.conn.xrevrange("liveblog:events", count=1)[0][0]
            enqueue_ms: dict[str, float] = {}
            submitted_ms: dict[str, float] = {}
            start = time.perf_counter()
            late = 0.0
            for i, (blog_id, text) in enumerate(pages[warm:]):
                due = start + i / docs_per_s
                now = time.perf_counter()
                if due > now:
                    time.sleep(due - now)
                else:
                    late = max(late, now - due)
                raw = RawDocument.from_bytes(text.encode(), blog_id=blog_id, source="bench://lat",
                                             fetched_at=datetime.now(timezone.utc))
                enqueue_ms[blog_id] = time.time() * 1000
                submit(self.conn, raw, settings)
                submitted_ms[blog_id] = time.time() * 1000
            offered_s = time.perf_counter() - start
            self._wait_processed(warm + n_docs, 120)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            sampler.__exit__(None, None, None)
            log.close()
        latencies = []
        xadd_ms: dict[str, int] = {}
        for entry_id, fields in self.conn.xrange("liveblog:events", min=b"(" + cursor):
            blog = json.loads(fields[b"event"])["data"]["blog"]["id"]
            at = int(entry_id.split(b"-")[0])
            latencies.append(at - enqueue_ms[blog])
            xadd_ms[blog] = max(at, xadd_ms.get(blog, 0))
        latencies.sort()
        parts = latency_parts(enqueue_ms, submitted_ms, xadd_ms, _jobs_by_blog(self.workdir / "latency.log"))
        return {"rate_posts_s": plan.latency_rate_posts_s, "doc_posts": plan.latency_doc_posts,
                "documents": n_docs, "events": len(latencies), "offered_s": round(offered_s, 2),
                "achieved_posts_s": round(n_docs * plan.latency_doc_posts / offered_s, 1),
                "max_submit_lag_ms": round(late * 1000, 1), "processes": plan.latency_processes,
                "p50_ms": _percentile(latencies, 0.50), "p90_ms": _percentile(latencies, 0.90),
                "p99_ms": _percentile(latencies, 0.99),
                "max_ms": round(latencies[-1], 1) if latencies else 0.0, "parts_ms": parts,
                "peak_rss_mb": sampler.peak_mb, "used_memory_start": used0}

    def _wait_processed(self, documents: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            c = _counters(self.conn)
            if c.get("documents_processed", 0) + c.get("documents_dead_lettered", 0) >= documents:
                return
            time.sleep(0.01)
        raise RuntimeError(f"latency: {documents} documents not processed within {timeout}s")


def _percentile(ordered: list[float], p: float) -> float:
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1) if ordered else 0.0


def _jobs_by_blog(log: Path) -> dict[str, tuple[float, float]]:
    """(start, end) of each document's job in epoch ms, by blog id, from the workers'
    ``job_done`` lines (their timestamp is the end, ``duration_ms`` the job's own time)."""
    out: dict[str, tuple[float, float]] = {}
    with open(log, encoding="utf-8", errors="replace") as lines:
        for entry in job_done_entries(lines):
            try:
                end = datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00")).timestamp() * 1000
                out[entry["blog_id"]] = (end - float(entry.get("duration_ms") or 0), end)
            except (KeyError, ValueError):
                continue
    return out


def latency_parts(enqueue_ms: dict[str, float], submitted_ms: dict[str, float], xadd_ms: dict[str, int],
                  jobs: dict[str, tuple[float, float]]) -> dict[str, dict[str, float]]:
    """Where a document's latency goes, p50/p90/p99 in ms over the documents measured:
    ``submit`` (the producer's accept-and-enqueue), ``to_job`` (from accepted to the job
    starting: waiting for a free worker, RQ's dequeue and bookkeeping), ``job_to_event``
    (the job's own work up to the XADD of its last event) and ``total`` (the latency of its
    last event). Clocks: the bench's and the workers' (one machine) and Redis's XADD time."""
    cols: dict[str, list[float]] = {"submit": [], "to_job": [], "job_to_event": [], "total": []}
    for blog, enqueued in enqueue_ms.items():
        if blog not in xadd_ms or blog not in jobs or blog not in submitted_ms:
            continue
        start = jobs[blog][0]
        cols["submit"].append(submitted_ms[blog] - enqueued)
        cols["to_job"].append(start - submitted_ms[blog])
        cols["job_to_event"].append(xadd_ms[blog] - start)
        cols["total"].append(xadd_ms[blog] - enqueued)
    return {name: {f"p{int(p * 100)}": _percentile(sorted(v), p) for p in (0.5, 0.9, 0.99)}
            for name, v in cols.items()}


# --------------------------------------------------------------------------- the run


class NotEmpty(RuntimeError):
    """The Redis the bench was pointed at holds data, and flushing it was not allowed."""


def _refuse_if_holding_data(url: str) -> None:
    conn = redis.Redis.from_url(url)
    try:
        keys = conn.dbsize()
    finally:
        conn.close()
    if keys:
        raise NotEmpty(
            f"REDIS_URL {_redacted(url)} holds {keys} keys and the benchmark flushes the database "
            "before every scenario: expected an empty database. Unset REDIS_URL to let the bench start "
            "its own redis-server, or pass --flush if that data may go."
        )


def _redacted(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}{parts.path}"


def run(*, posts: int | None = None, quick: bool = False, rate: float | None = None, progress=None,
        flush: bool = False, new_per_poll: int | None = None) -> dict:
    """``flush``: allow flushing a REDIS_URL database that holds keys (a private server is
    always empty). ``new_per_poll``: new posts per re-polled 40-post page (default 2: 95 %
    duplicates; 0: pages that bring nothing new)."""
    plan = Plan.make(posts, quick)
    if rate:
        plan.latency_rate_posts_s = rate
    if new_per_poll is not None:
        plan.repoll_new_per_poll = checked_new_per_poll(new_per_poll)
    load_start = os.getloadavg()
    say = progress or (lambda msg: None)
    url = os.environ.get("REDIS_URL") or os.environ.get("RQ_REDIS_URL")
    server = None
    if url and not flush:
        _refuse_if_holding_data(url)
    if not url:
        server = PrivateRedis().start()
        url = server.url
    workdir = Path(tempfile.mkdtemp(prefix="liveblog-bench-"))
    started = time.time()
    try:
        h = Harness(url, plan, workdir, say)
        corpus = h.corpus
        n_cpu = os.cpu_count() or 1
        headline = max(plan.process_counts) if n_cpu >= 2 else 1
        new_pages = corpus.new_pages(max(1, plan.new_posts // (plan.new_page_posts * 10)), 10,
                                     plan.new_page_posts, seed=plan.seed)
        # a poller's order: blog by blog in turn, so two workers rarely hold two polls of one blog
        new_pages = corpus.round_robin(new_pages[: max(1, plan.new_posts // plan.new_page_posts)])
        new_posts = len(new_pages) * plan.new_page_posts
        naive_posts = corpus.single_posts(new_pages)[: plan.naive_posts]

        say(f"naive baseline: {len(naive_posts)} posts, one RQ job each, {headline} forking worker(s)")
        naive_runs = [h.naive_burst(naive_posts, headline)]

        new_runs: dict[int, list[Burst]] = {}
        for n in scaling_order(plan.process_counts):
            say(f"liveblog all-new: {new_posts} posts in {len(new_pages)} documents, {n} process(es)")
            new_runs.setdefault(n, []).append(h.liveblog_burst("new", new_pages, n, expected_posts=new_posts))
            if n == headline and len(new_runs[n]) == 1:
                say("redis memory of dedup state")
                memory = h.dedup_memory(new_posts)
        prime, timed = corpus.repoll_pages(plan.repoll_blogs, plan.repoll_polls, plan.repoll_page_posts,
                                           plan.repoll_new_per_poll, seed=plan.seed + 1)
        timed = corpus.round_robin(timed)
        repoll_posts = len(timed) * plan.repoll_page_posts
        say(f"liveblog re-poll: {repoll_posts} posts in {len(timed)} polls, {headline} process(es)")
        repoll = h.liveblog_burst("repoll", timed, headline, expected_posts=repoll_posts, prime=prime)
        # the baseline once more, last of the throughput runs: the ratios' denominator then
        # spans the run as their numerators do (one run's baseline moved 53-79 posts/s)
        say(f"naive baseline again: {len(naive_posts)} posts")
        naive_runs.append(h.naive_burst(naive_posts, headline))
        naive = Burst.combined(naive_runs)
        say(f"steady-rate latency: {plan.latency_rate_posts_s:.0f} posts/s for {plan.latency_seconds:.0f}s, "
            f"{plan.latency_processes} workers")
        lat = h.latency()
    finally:
        if server:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    new_by = {n: Burst.combined(runs_) for n, runs_ in new_runs.items()}
    new = new_by[headline]
    one = new_by.get(1)
    two = new_by.get(2)
    dup_fraction = repoll.counters.get("posts_duplicate", 0) / max(repoll.posts, 1)
    used_delta = memory["used_memory_dedup_only"] - memory["used_memory_flushed"]
    result = {
        "naive_posts_per_s": round(naive.posts_per_s, 1),
        "new_posts_per_s": round(new.posts_per_s, 1),
        "repoll_posts_per_s": round(repoll.posts_per_s, 1),
        "ratio_new": round(new.posts_per_s / naive.posts_per_s, 1) if naive.posts_per_s else 0.0,
        "ratio_repoll": round(repoll.posts_per_s / naive.posts_per_s, 1) if naive.posts_per_s else 0.0,
        "ratio_new_wall": round(new.wall_posts_per_s / naive.wall_posts_per_s, 1) if naive.wall_posts_per_s else 0.0,
        "ratio_repoll_wall": (round(repoll.wall_posts_per_s / naive.wall_posts_per_s, 1)
                              if naive.wall_posts_per_s else 0.0),
        "scaling_2_vs_1": round(two.posts_per_s / one.posts_per_s, 2) if one and two and one.posts_per_s else 0.0,
        "new_posts_per_s_by_processes": {str(n): round(b.posts_per_s, 1) for n, b in new_by.items()},
        "latency_p50_ms": lat["p50_ms"],
        "latency_p99_ms": lat["p99_ms"],
        "worker_peak_rss_mb": max([b.peak_rss_mb for b in new_by.values()] + [repoll.peak_rss_mb,
                                                                               lat["peak_rss_mb"]]),
        "naive_worker_peak_rss_mb": naive.peak_rss_mb,
        "repoll_duplicate_fraction": round(dup_fraction, 3),
        "redis_bytes_per_1000_posts_dedup": round(used_delta / max(new_posts, 1) * 1000),
        "redis_memory_usage_per_post_key": memory["memory_usage_per_post_key"],
        "processes": headline,
        "cpu_count": n_cpu,
        "plan": plan.__dict__ | {"process_counts": list(plan.process_counts)},
        "runs": {"naive": naive.as_dict(), "repoll": repoll.as_dict(),
                 **{f"new_{n}": b.as_dict() for n, b in new_by.items()}},
        "latency": lat,
        "cpu_budget": cpu_budget(naive, {"new": new, "repoll": repoll}, n_cpu, one_process=one),
        "memory": memory,
        "redis": "REDIS_URL" if os.environ.get("REDIS_URL") or os.environ.get("RQ_REDIS_URL") else "private",
        "elapsed_s": round(time.time() - started, 1),
        # other processes on the machine distort every number, scaling most: keep the load with the results
        "loadavg_1m_start_end": [round(load_start[0], 2), round(os.getloadavg()[0], 2)],
    }
    return result


# The throughput targets, as ratios to the naive baseline (docs/performance.md).
TARGET_RATIOS = {"new": 30.0, "repoll": 100.0}


def cpu_budget(naive: Burst, runs: dict[str, Burst], cores: int, one_process: Burst | None = None) -> dict:
    """What each target leaves to spend: a run keeping every core busy reaches ``ratio``
    times the naive rate only if it costs at most ``cores / (ratio x naive posts/s)`` of CPU
    per post, workers and redis-server together. ``over_budget`` = measured / that budget:
    how many times cheaper per post the run would have to become (1.0 or less: within it).

    ``floor`` (all-new, from the one-process run ``one_process``, where a stage's wall time is
    its CPU time): what no change to deduplication, events or RQ use can remove - parsing and
    enrichment, which the naive baseline runs too, with the same code - plus the Redis CPU of
    the dedup index as it is. When ``floor_over_budget`` is above 1, the target needs those
    stages themselves cheaper (docs/performance.md)."""
    out = {}
    for name, run_ in runs.items():
        ratio = TARGET_RATIOS[name]
        budget = cores * 1000 / (ratio * naive.posts_per_s) if naive.posts_per_s else 0.0
        spent = run_.cpu_per_post(cores)
        out[name] = {"target_ratio": ratio, "budget_ms_per_post": round(budget, 3),
                     "spent_ms_per_post": spent["total"], "busy": spent["busy"],
                     "over_budget": round(spent["total"] / budget, 2) if budget else 0.0}
        profile = one_process.profile if one_process is not None and name == "new" else {}
        if budget and {"parse", "enrich"} <= set(profile):
            floor = {"parse": profile["parse"], "enrich": profile["enrich"], "redis": spent["redis"]}
            floor["total"] = round(sum(floor.values()), 3)
            out[name]["floor_ms_per_post"] = floor
            out[name]["floor_over_budget"] = round(floor["total"] / budget, 2)
    out["naive_ms_per_post"] = naive.cpu_per_post(cores)["total"]
    return out


def render(r: dict) -> str:
    rows = [
        ("scenario", "procs", "posts", "posts/s", "wall posts/s", "vs naive", "cmds/post", "peak RSS MB"),
    ]
    naive = r["runs"]["naive"]
    rows.append(("naive: 1 RQ job/post, forking Worker", naive["processes"], naive["posts"], naive["posts_per_s"],
                 naive["wall_posts_per_s"], "1.0x", naive["redis_commands_per_post"], naive["peak_rss_mb"]))
    for key, run_ in r["runs"].items():
        if not key.startswith("new_"):
            continue
        rows.append((f"liveblog all-new, full enrichment", run_["processes"], run_["posts"], run_["posts_per_s"],
                     run_["wall_posts_per_s"], f"{run_['posts_per_s'] / max(naive['posts_per_s'], 1e-9):.1f}x",
                     run_["redis_commands_per_post"], run_["peak_rss_mb"]))
    rp = r["runs"]["repoll"]
    rows.append((f"liveblog re-poll ({r['repoll_duplicate_fraction']:.0%} duplicates)", rp["processes"], rp["posts"],
                 rp["posts_per_s"], rp["wall_posts_per_s"], f"{r['ratio_repoll']:.1f}x",
                 rp["redis_commands_per_post"], rp["peak_rss_mb"]))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lat = r["latency"]
    lines += [
        "",
        f"scaling (all-new): " + ", ".join(_scaling_parts(r)) + f"; 2 vs 1 = {r['scaling_2_vs_1']}x"
        + (" (1 and 2 processes run twice, 1, 2, 2, 1: a linear drift cancels)"
           if len(r["runs"].get("new_1", {}).get("repeats_posts_per_s", [])) > 1 else ""),
        f"latency at {lat['achieved_posts_s']} posts/s ({lat['doc_posts']} new posts/document, {lat['processes']} workers,"
        f" {lat['events']} events): p50 {lat['p50_ms']} ms, p90 {lat['p90_ms']} ms, p99 {lat['p99_ms']} ms,"
        f" max {lat['max_ms']} ms",
        *_latency_part_lines(lat),
        f"worker peak RSS (enrichers loaded): {r['worker_peak_rss_mb']} MB; naive worker {r['naive_worker_peak_rss_mb']} MB",
        f"redis dedup state: {r['redis_bytes_per_1000_posts_dedup']:,} bytes per 1,000 posts (used_memory delta); "
        f"MEMORY USAGE of one post key ~{r['redis_memory_usage_per_post_key']} bytes",
        f"ratios (processing window): all-new {r['ratio_new']}x, re-poll {r['ratio_repoll']}x; "
        f"(wall incl. enqueue + start-up: {r['ratio_new_wall']}x, {r['ratio_repoll_wall']}x)",
        *_profile_lines(r),
        *_budget_lines(r),
        f"cpu_count {r['cpu_count']}, load average (1 min) at start/end {r['loadavg_1m_start_end']}, "
        f"redis {r['redis']}, elapsed {r['elapsed_s']} s",
    ]
    return "\n".join(lines)


def _latency_part_lines(lat: dict) -> list[str]:
    parts = lat.get("parts_ms") or {}
    if not parts.get("total", {}).get("p50"):
        return []
    names = (("submit", "submit"), ("to_job", "to the job's start"), ("job_to_event", "job to its last event"))
    return ["  per document, p50 / p99 ms: " + ", ".join(
        f"{label} {parts[k]['p50']} / {parts[k]['p99']}" for k, label in names)]


def _scaling_parts(r: dict) -> list[str]:
    out = []
    for n, v in r["new_posts_per_s_by_processes"].items():
        each = r["runs"].get(f"new_{n}", {}).get("repeats_posts_per_s") or []
        out.append(f"{n} proc {v} posts/s" + (f" ({' and '.join(map(str, each))})" if len(each) > 1 else ""))
    return out


def _profile_lines(r: dict) -> list[str]:
    """The stage profile of the headline all-new run and of the re-poll run (job_profile)."""
    out = []
    for label, key in (("all-new", f"new_{r['processes']}"), ("re-poll", "repoll")):
        prof = r["runs"].get(key, {}).get("ms_per_post") or {}
        if prof:
            stages = ", ".join(f"{k} {v}" for k, v in prof.items() if k not in ("job", "outside_jobs"))
            out.append(f"where the time goes, {label}, ms per post summed over workers: {stages}; "
                       f"job {prof['job']}, outside jobs {prof['outside_jobs']}")
    return out


def _budget_lines(r: dict) -> list[str]:
    """CPU per post of every run, and what each target would allow (cpu_budget)."""
    runs = r["runs"]
    spent = ", ".join(
        f"{label} {runs[key]['cpu_ms_per_post']['workers']} + {runs[key]['cpu_ms_per_post']['redis']}"
        for label, key in (("naive", "naive"), ("all-new", f"new_{r['processes']}"), ("re-poll", "repoll"))
        if key in runs)
    out = [f"CPU ms per post in the window, workers + redis-server: {spent}"]
    budget = r.get("cpu_budget") or {}
    for label, key in (("all-new", "new"), ("re-poll", "repoll")):
        b = budget.get(key)
        if b:
            out.append(f"budget for {b['target_ratio']:g}x {label}: {b['budget_ms_per_post']} ms of CPU per post with every "
                       f"core busy; spent {b['spent_ms_per_post']} ms ({b['busy']:.0%} of the cores busy): "
                       + (f"{b['over_budget']}x over" if b["over_budget"] > 1 else f"within it ({b['over_budget']}x)"))
            if "floor_ms_per_post" in b:
                f = b["floor_ms_per_post"]
                out.append(f"  floor: parse {f['parse']} + enrichment {f['enrich']} (one process; the naive baseline "
                           f"runs both) + redis {f['redis']} = {f['total']} ms, {b['floor_over_budget']}x the budget "
                           f"before deduplication, events or RQ")
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="bench/run.py", description="liveblog-stream vs the naive baseline")
    add_arguments(parser)
    return handle(parser.parse_args(argv))


def checked_new_per_poll(value: int) -> int:
    """New posts per re-polled page: a number a 40-post page can hold, or ValueError naming it."""
    pages = Plan.repoll_page_posts
    if not 0 <= value <= pages:
        raise ValueError(f"new posts per poll: expected 0 to {pages}, found {value}")
    return value


def _new_per_poll(text: str) -> int:
    """``--new-per-poll`` as argparse reads it (its errors end the command with the usage)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 0 to {Plan.repoll_page_posts}, found {text!r}") from None
    try:
        return checked_new_per_poll(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--posts", type=int, default=None, help="posts in the all-new corpus (others scale with it)")
    parser.add_argument("--quick", action="store_true", help="small corpus: the whole run in 41-55 s on the 2-core machines of rounds 13 to 16 (docs/performance.md)")
    parser.add_argument("--rate", type=float, default=None, help="posts/s offered in the latency scenario (default 200)")
    parser.add_argument("--new-per-poll", type=_new_per_poll, default=None, metavar="K",
                        help="new posts per re-polled 40-post page (default 2, 95%% duplicates; 0: nothing new)")
    parser.add_argument("--flush", action="store_true",
                        help="with REDIS_URL set: flush that database even if it holds keys (refused otherwise)")


def handle(args) -> int:
    def progress(msg: str) -> None:
        print(f"bench: {msg}", file=sys.stderr, flush=True)

    try:
        result = run(posts=args.posts, quick=args.quick, rate=getattr(args, "rate", None), progress=progress,
                     flush=getattr(args, "flush", False), new_per_poll=getattr(args, "new_per_poll", None))
    except NotEmpty as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        print(render(result))
    return 0
