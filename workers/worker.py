"""The RQ worker liveblog runs: non-forking by default, quick to recover abandoned jobs,
and running nothing but liveblog's own jobs.

A forking ``rq.Worker`` pays a fork per job (about 10 ms here) and rebuilds
nothing warm; our job catches every error itself, so a non-forking
``SimpleWorker`` keeps parsers, gazetteers and Lua scripts warm across jobs.
``--fork`` is there for operators who prefer process isolation per job.

RQ declares a job abandoned when its started-registry entry expires; the
default allows the job timeout plus 60 s, then waits for the next 10-minute
maintenance pass. Here the grace is ``abandoned_grace_s`` and maintenance runs
every ``maintenance_interval_s``, so a job whose worker was killed comes back
within seconds (the job's ``Retry`` allows it to run again). An idle worker's
blocking dequeue returns every ``maintenance_interval_s`` too (RQ's default blocks
405 s), so it heartbeats that often and ``liveblog health`` can tell a killed
worker from an idle one within seconds.

RQ also guards registry maintenance with a lock that lives 899 s: a worker
killed during maintenance stops all recovery for 15 minutes. Here the lock
lives ``maintenance_lock_s``, and a job stranded in RQ's intermediate list
(its worker died between dequeue and start) is retried after
``abandoned_grace_s`` instead of RQ's fixed minute.

Anyone who can write to Redis can enqueue a job naming any importable callable;
the worker refuses every job outside ``ALLOWED_JOBS`` before resolving it, and
records the refusal in the dead letter. RQ 3 also resolves a job's ``on_success``,
``on_failure`` and ``on_stopped`` callbacks by dotted name and enqueues jobs that depend
on it, so an allowed job carrying callbacks, dependencies or webhooks is refused the
same way (``refusal_of``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from datetime import datetime, timedelta, timezone

import structlog
from rq import SimpleWorker, Worker, worker_registration
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.job import Job
from rq.registry import clean_registries
from rq.scheduler import RQScheduler
from rq.utils import now
from rq.worker import WorkerStatus

from schemas.keys import Keys
from schemas.settings import ALLOWED_JOBS, Settings
from workers import runtime
from workers.jobs import GAVE_UP, dead_letter_failed

log = structlog.get_logger("liveblog.worker")


# RQ blocks on the queue for ``worker_ttl - 15`` seconds between heartbeats (RQ's dequeue_timeout).
_RQ_DEQUEUE_MARGIN_S = 15
_HEARTBEAT_COALESCE_S = 1.0  # see _Liveblog.heartbeat
_PUBSUB_WAIT_S = 1.0  # see QuickUnsubscribe


def heartbeat_interval_s(settings: Settings) -> int:
    """How often an idle liveblog worker heartbeats: its blocking dequeue returns every
    ``maintenance_interval_s``, then it heartbeats and runs maintenance when due.
    ``liveblog health`` derives its default limit from the same setting."""
    return max(1, settings.maintenance_interval_s)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent_pid: int, who: str = "scheduler") -> bool:
    """Ask Linux to SIGTERM this process when its parent dies.

    Returns False when the parent has already died (before the request took effect), so
    the caller stops the way it stops on that signal. ``who`` names the process in the log
    (the scheduler of a worker; a worker of a ``--processes N`` pool)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
                log.warning(f"{who}_pdeathsig_failed", errno=ctypes.get_errno())
        except (OSError, AttributeError):  # no prctl: the parent-pid watch below still works
            log.warning(f"{who}_pdeathsig_unavailable")
    return os.getppid() == parent_pid


class LiveblogScheduler(RQScheduler):
    """RQ's scheduler, which ends when the worker that forked it dies.

    RQ stops its scheduler child only from the worker's teardown, which a SIGKILL (or an
    OOM kill) skips: the child ran on as an orphan under PID 1, holding the scheduler
    lock and moving jobs. Here the child asks for SIGTERM on its parent's death
    (``PR_SET_PDEATHSIG``; RQ's handler then stops it cleanly and releases the lock), and
    its loop also stops when its parent pid changes (other systems, or a missed signal).
    """

    _parent_pid: int | None = None

    def start(self):
        self._parent_pid = os.getpid()
        return super().start()

    def work(self):  # runs in the forked child
        if self._parent_pid is not None:
            # RQ's handlers first: the SIGTERM asked for below may come at once, and without
            # them it would end the child before it releases the lock its parent took.
            self._install_signal_handlers()
            if not die_with_parent(self._parent_pid):
                log.warning("scheduler_orphaned", parent_pid=self._parent_pid)
                self.request_stop()  # RQ's loop checks this first: stop() releases the lock
        super().work()

    def heartbeat(self):  # once per loop
        if self._parent_pid is not None and os.getppid() != self._parent_pid:
            log.warning("scheduler_orphaned", parent_pid=self._parent_pid)
            self.request_stop()
        super().heartbeat()


class LiveblogJob(Job):
    """RQ's Job, except that saving it does not compress its payload again.

    RQ writes the whole job hash on every state change, ``data`` included, and compresses
    the payload each time (``zlib.compress`` of the document: ~0.5 ms for a 40-post page,
    once more after every successful job). The payload never changes once enqueued, so the
    compressed bytes the job was read with are written back as they were. Anything that
    changes the payload (RQ's setters reset ``_data``) makes it compress as before.
    """

    _read_with: tuple[object, bytes] | None = None  # (payload as read, its bytes as stored)

    def restore(self, raw_data):
        result = super().restore(raw_data)
        stored = raw_data.get(b"data", raw_data.get("data"))
        if isinstance(stored, bytes):
            self._read_with = (self._data, stored)
        return result

    def to_dict(self, include_meta: bool = True, include_result: bool = True) -> dict:
        held = self._read_with
        if held is None or held[0] is not self._data:
            return super().to_dict(include_meta=include_meta, include_result=include_result)
        payload, self._data = self._data, b""  # compressing nothing costs nothing
        try:
            obj = super().to_dict(include_meta=include_meta, include_result=include_result)
        finally:
            self._data = payload
        obj["data"] = held[1]
        return obj


class QuickUnsubscribe:
    """RQ's command channel (``rq`` kill-horse, stop-job and shutdown commands), with its
    listening thread waking every ``_PUBSUB_WAIT_S`` instead of RQ's 60 s.

    The thread waits that long per loop; redis-py 8's ``stop()`` joins it, and a thread that
    read RQ's unsubscribe reply before the stop flag was cleared (a loaded machine) waits the
    whole time for a subscription that never comes: every stopping worker, a burst pool's
    included, was held up to a minute. A command still arrives at once (the wait is on the
    socket); an idle thread costs one wake-up a second. Mixed into liveblog's workers and into
    the bench's naive baseline worker (``liveblog.benchkit.naive``), whose burst runs it held
    up to a minute each after their last job.
    """

    def subscribe(self) -> None:
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)  # type: ignore[attr-defined]
        self.pubsub = self.connection.pubsub()  # type: ignore[attr-defined]
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})  # type: ignore[attr-defined]
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=_PUBSUB_WAIT_S, daemon=True, exception_handler=self._pubsub_exception_handler,  # type: ignore[attr-defined]
        )


class _Liveblog(QuickUnsubscribe):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("job_class", LiveblogJob)
        # RQ's default worker_ttl (420 s) makes an idle worker block 405 s between heartbeats,
        # so a killed worker looks alive for minutes and maintenance waits as long.
        kwargs.setdefault("worker_ttl", heartbeat_interval_s(runtime.settings()) + _RQ_DEQUEUE_MARGIN_S)
        super().__init__(*args, **kwargs)

    def _start_scheduler(self, burst: bool = False, logging_level: str | None = "INFO",
                         date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
                         log_format: str = DEFAULT_LOGGING_FORMAT) -> None:
        """RQ's ``_start_scheduler`` with ``LiveblogScheduler``: the same lock, burst and fork logic."""
        self.scheduler = LiveblogScheduler(
            self.queues,  # type: ignore[attr-defined]
            connection=self.connection,  # type: ignore[attr-defined]
            logging_level=logging_level if logging_level is not None else self.log.level,  # type: ignore[attr-defined]
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,  # type: ignore[attr-defined]
        )
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()

    def request_stop(self, signum, frame):
        """RQ's warm shutdown, remembered. An idle RQ worker stops by raising StopRequested
        from the signal handler, wherever the process is; inside RQ's maintenance (registry
        cleanup, ready dependents) some of that code catches every Exception and logs it, and
        the signal was lost: the worker ran on, and only a second signal stopped it. Here the
        request is also kept in ``_stop_requested``, which the work loop checks before every
        dequeue and ``run_maintenance_tasks`` checks when it ends."""
        self._stop_requested = True
        return super().request_stop(signum, frame)  # type: ignore[misc]

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()  # type: ignore[misc]
        if self._stop_requested and self.get_state() != WorkerStatus.BUSY:  # type: ignore[attr-defined]
            raise StopRequested()  # out of RQ's dequeue loop too, which would otherwise block on

    def heartbeat(self, timeout: int | None = None, pipeline=None):
        """RQ's heartbeat (HSET last_heartbeat, EXPIRE of the worker key and of its executions
        key) in one round trip instead of three. RQ sends one before and one after each
        dequeue and one after each job; the one before the dequeue, within a second of the
        one after the job and with the same TTL, moves the expiry by less than that second,
        so it is not sent. A heartbeat with another TTL (a job's, then the worker's again) is
        always sent: the worker key never keeps a longer TTL than RQ would give it."""
        ttl = timeout or self.worker_ttl + 60  # type: ignore[attr-defined]
        if pipeline is not None:  # part of RQ's own transaction (a job's start): sent with it
            super().heartbeat(ttl, pipeline=pipeline)  # type: ignore[misc]
            self._last_beat = (ttl, time.monotonic())
            return None
        sent = getattr(self, "_last_beat", None)
        if sent is not None and sent[0] == ttl and time.monotonic() - sent[1] < _HEARTBEAT_COALESCE_S:
            return None
        with self.connection.pipeline(transaction=False) as pipe:  # type: ignore[attr-defined]
            # 'birth' is written only when the worker registers: a record without it was lost, whether
            # nothing is left of it or another write (a state, a heartbeat) made a partial one since
            pipe.hexists(self.key, "birth")  # type: ignore[attr-defined]
            super().heartbeat(ttl, pipeline=pipe)  # type: ignore[misc]
            registered = pipe.execute()[0]
        self._last_beat = (ttl, time.monotonic())
        if not registered:
            self._register_again()
        return None

    def _register_again(self) -> None:
        """The heartbeat found no record of this worker: Redis lost it (restarted without
        persistence, a failover to a replica that missed it, FLUSHALL). RQ never registers a
        running worker again, so it served on while ``liveblog health`` reported no worker alive
        (exit 1) and the ``liveblog_workers`` gauge stayed 0. Its record and its place in RQ's
        worker sets are written again, as at its birth."""
        log.warning("worker_registered_again", worker=self.name)  # type: ignore[attr-defined]
        with self.connection.pipeline() as pipe:  # type: ignore[attr-defined]
            pipe.hset(self.key, mapping={**self.serialize(), "state": self.get_state()})  # type: ignore[attr-defined]
            worker_registration.register(self, pipe)  # type: ignore[arg-type]
            pipe.expire(self.key, self._last_beat[0])
            pipe.execute()

    def set_state(self, state: str, pipeline=None):
        """RQ's, without the second of two equal writes: after each job RQ sets the worker
        idle, then sets it idle again before the next dequeue, a round trip each. A state
        written less than a second ago is not written again; any other state, and any write
        inside RQ's own transactions, always is."""
        if pipeline is None:
            sent = getattr(self, "_last_state", None)
            if sent is not None and sent[0] == state and time.monotonic() - sent[1] < _HEARTBEAT_COALESCE_S:
                self._state = state
                return None
        super().set_state(state, pipeline=pipeline)  # type: ignore[misc]
        # a write queued in a transaction is not known to land: the next direct one is sent
        self._last_state = (state, time.monotonic()) if pipeline is None else None
        return None

    def handle_execution_ended(self, job: Job, queue, heartbeat_ttl: int) -> None:
        """RQ's, without its round trip: RQ writes the job's ``last_heartbeat`` with an HSET of
        its own right before the success or failure handling saves the whole job, that field
        included, in its transaction. Here the field is set on the job and goes with that save
        (RQ's job heartbeat no longer touches the started registry, so nothing else moves)."""
        job.ended_at = now()
        job.last_heartbeat = job.ended_at

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        timeout = job.timeout if job.timeout and job.timeout > 0 else runtime.settings().job_timeout_s
        return int(max(timeout - working_time, 1)) + runtime.settings().abandoned_grace_s

    def clean_registries(self) -> None:
        settings = runtime.settings()
        for queue in self.queues:  # type: ignore[attr-defined]
            if not self.connection.set(queue.registry_cleaning_key, self.name, nx=True,  # type: ignore[attr-defined]
                                       ex=settings.maintenance_lock_s):
                continue
            try:
                clean_registries(queue, self._exc_handlers)  # type: ignore[attr-defined]
                worker_registration.clean_worker_registry(queue)
                self._recover_dequeued(queue, timedelta(seconds=settings.abandoned_grace_s))
                dead_letter_failed(queue)  # abandoned with no retry left, or failed where nobody swept
            finally:
                queue.release_maintenance_lock()
        self.last_cleaned_at = now()

    def _recover_dequeued(self, queue, grace: timedelta) -> None:
        """Retry jobs whose worker died after taking them off the queue but before starting them."""
        stranded = queue.intermediate_queue
        for job_id in stranded.get_job_ids():
            if job_id in queue.started_job_registry:
                continue
            job = queue.fetch_job(job_id)
            if job is None:
                stranded.remove(job_id)
                continue
            if stranded.set_first_seen(job_id):
                continue
            first_seen = stranded.get_first_seen(job_id)
            if first_seen is not None and now() - first_seen > grace:
                log.warning("job_recovered_after_dequeue", job_id=job_id)
                self.handle_job_failure(job, queue, exc_string="worker died between dequeue and start")  # type: ignore[attr-defined]
                stranded.remove(job_id)

    def handle_job_failure(self, job: Job, queue, *args, **kwargs):
        """RQ's, then a job it gave up on (no retry left, or stopped) goes to the dead letter
        at once instead of staying in RQ's failed registry (``jobs.dead_letter_failed``)."""
        result = super().handle_job_failure(job, queue, *args, **kwargs)  # type: ignore[misc]
        if job.get_status(refresh=False) in GAVE_UP:
            try:
                dead_letter_failed(queue, [job.id])
            except Exception:  # Redis down: the next maintenance pass sweeps the registry
                log.warning("failed_job_not_dead_lettered", job_id=job.id, exc_info=True)
        return result

    def execute_job(self, job: Job, queue) -> None:
        refusal = refusal_of(job)
        if refusal is not None:
            self._refuse(job, queue, *refusal)
            return
        super().execute_job(job, queue)  # type: ignore[misc]

    def _refuse(self, job: Job, queue, expected: str, found: str) -> None:
        keys = Keys(runtime.settings().key_prefix)
        with self.connection.pipeline() as pipe:  # type: ignore[attr-defined]
            pipe.xadd(keys.dead_letter, {
                "document_id": f"job-{job.id}", "blog_id": "unknown", "source": f"rq job {job.id}",
                "reason": "job refused", "expected": expected, "found": found,
                "at": datetime.now(timezone.utc).isoformat(), "raw": job.description or "",
            })
            pipe.hincrby(keys.stats, "jobs_refused", 1)
            pipe.execute()
        # The dead letter keeps the record; the job itself is removed (from the intermediate
        # list too) so it is neither run, retried, nor counted as a liveblog document.
        queue.intermediate_queue.remove(job.id)
        job.delete()
        log.error("job_refused", job_id=job.id, expected=expected, found=found)


def refusal_of(job: Job) -> tuple[str, str] | None:
    """``(expected, found)`` when the job must not run, else None. Reads only what RQ stored:
    nothing named by the job is imported (``job.success_callback`` and friends would import it).

    Beyond the function, RQ runs what a job carries: ``on_success``/``on_failure``/``on_stopped``
    callbacks resolved by dotted name, dependents enqueued behind it, webhooks sent to any URL.
    liveblog's producers set none of them, so a job that has any was not written by them.
    """
    if job.func_name not in ALLOWED_JOBS:
        return f"one of {sorted(ALLOWED_JOBS)}", str(job.func_name)
    found = [
        f"{hook} callback {name!r}"
        for hook, name in (
            ("on_success", job._success_callback_name),
            ("on_failure", job._failure_callback_name),
            ("on_stopped", job._stopped_callback_name),
        )
        if name
    ]
    if job._dependency_ids:
        found.append(f"dependencies on jobs {list(job._dependency_ids)!r}")
    if job.webhooks:
        found.append(f"webhooks to {[w.url for w in job.webhooks]!r}")
    if job.instance is not None:
        found.append(f"a bound instance {type(job.instance).__name__}")
    if found:
        expected = f"a {job.func_name} job with no callbacks, dependencies or webhooks"
        return expected, "; ".join(found)
    return None


class LiveblogWorker(_Liveblog, SimpleWorker):
    pass


class LiveblogForkingWorker(_Liveblog, Worker):
    pass
