"""The RQ job on a real redis-server: bad input is dead-lettered with a reason, the worker goes on."""

from __future__ import annotations

import json
import zlib

import pytest
from rq import Queue
from rq.callbacks import Callback
from rq.serializers import JSONSerializer
from rq.webhook import Webhook

from liveblog import stats
from producers.enqueue import ingest_queue, submit
from schemas.settings import JOB_PROCESS_DOCUMENT
from tests.helpers import STORM, PlainEnricher, doc
from workers import runtime
from workers.worker import LiveblogWorker

pytestmark = pytest.mark.redis


@pytest.fixture
def work(conn, settings):
    runtime.configure(settings, PlainEnricher())

    def run() -> None:
        worker = LiveblogWorker([ingest_queue(conn, settings)], connection=conn, serializer=JSONSerializer)
        worker.work(burst=True)

    yield run
    runtime.configure(settings)


def dead_letters(conn) -> dict[str, dict[str, str]]:
    return {
        fields[b"source"].decode(): {k.decode(): v.decode() for k, v in fields.items()}
        for _, fields in conn.xrange("liveblog:deadletter")
    }


MALFORMED = {
    "garbage.bin": (bytes(range(256)) * 40, "invalid UTF-8"),
    "empty.txt": (b"", "empty document"),
    "prose.txt": (b"A page with words.\n\nBut no time stamps at all.\n", "no posts"),
    "latin1.txt": ("Caf\u00e9 12:31 , Ana".encode("latin-1"), "invalid UTF-8"),
    "controls.txt": (b"\x01\x02\x03\x04" * 500, "binary data"),
}


def test_malformed_documents_are_dead_lettered_and_the_worker_keeps_going(conn, settings, work):
    for name, (data, _) in MALFORMED.items():
        raw = doc(data, blog_id=name.split(".")[0])
        assert submit(conn, raw.model_copy(update={"source": name}), settings)
    assert submit(conn, doc(STORM.read_bytes()), settings)
    work()
    letters = dead_letters(conn)
    assert {name: letters[name]["reason"] for name in MALFORMED} == {n: r for n, (_, r) in MALFORMED.items()}
    assert "expected a UTF-8 encoded document" not in letters["garbage.bin"]["found"]
    assert letters["garbage.bin"]["expected"] == "a UTF-8 encoded document"
    assert letters["garbage.bin"]["found"].startswith("byte 0x80 at offset 128")
    assert letters["prose.txt"]["expected"].startswith("timestamped post lines")
    assert '"body_b64"' in letters["garbage.bin"]["raw"]  # the raw input is kept
    assert conn.xlen("liveblog:events") == 22  # the good document after them was processed
    report = stats.collect(conn, settings)
    assert report["counters"]["documents_accepted"] == 6
    assert report["counters"]["documents_dead_lettered"] == 5
    assert report["counters"]["documents_processed"] == 1
    assert report["reconciled"]["ok"] is True


def test_payload_that_is_not_a_document_is_dead_lettered_with_the_field_at_fault(conn, settings, work):
    queue = Queue(settings.ingest_queue, connection=conn, serializer=JSONSerializer)
    queue.enqueue(JOB_PROCESS_DOCUMENT, {"document_id": "x1", "blog_id": "b", "source": "api"})
    work()
    letter = dead_letters(conn)["api"]
    assert letter["reason"] == "invalid job payload"
    assert "RawDocument" in letter["expected"]
    assert "Field required" in letter["found"]


def test_same_document_submitted_twice_runs_once(conn, settings, work):
    raw = doc(STORM.read_bytes())
    assert submit(conn, raw, settings) is True
    assert submit(conn, raw, settings) is False
    assert ingest_queue(conn, settings).count == 1
    work()
    counters = stats.collect(conn, settings)["counters"]
    assert counters["documents_accepted"] == 1 and counters["documents_resubmitted"] == 1
    assert conn.xlen("liveblog:events") == 22


def test_retries_set_to_none_are_accepted_and_the_job_runs_once(conn, settings, work):
    """LIVEBLOG_JOB_RETRIES=0 is a valid setting ("none"): RQ's Retry refuses max=0, and every
    producer died on its first document with a ValueError traceback."""
    settings = settings.model_copy(update={"job_retries": 0})
    assert submit(conn, doc(STORM.read_bytes()), settings) is True
    job = ingest_queue(conn, settings).jobs[0]
    assert not job.retries_left
    work()
    counters = stats.collect(conn, settings)["counters"]
    assert counters["documents_processed"] == 1 and conn.xlen("liveblog:events") == 22


def test_jobs_travel_as_json_never_pickle(conn, settings):
    submit(conn, doc(STORM.read_bytes()), settings)
    job_key = next(iter(conn.scan_iter("rq:job:*")))
    data = zlib.decompress(conn.hget(job_key, "data"))  # RQ compresses the serialized call
    function, instance, args, kwargs = json.loads(data)  # JSON; a pickle would not load here
    assert function == JOB_PROCESS_DOCUMENT
    assert args[0]["blog_id"] == "storm" and args[0]["body"].startswith("Storm Brannock")


@pytest.mark.reliability
def test_a_job_naming_any_other_callable_is_refused_and_dead_lettered(conn, settings, work, tmp_path):
    marker = tmp_path / "ran"
    queue = Queue(settings.ingest_queue, connection=conn, serializer=JSONSerializer)
    job = queue.enqueue("pathlib.Path.touch", str(marker))
    submit(conn, doc(STORM.read_bytes()), settings)
    work()
    assert not marker.exists()
    letter = dead_letters(conn)[f"rq job {job.id}"]
    assert letter["reason"] == "job refused" and letter["found"] == "pathlib.Path.touch"
    assert not conn.exists(job.key)  # removed: never run, never retried
    assert int(conn.hget("liveblog:stats", "jobs_refused")) == 1
    assert conn.xlen("liveblog:events") == 22  # the worker went on with the real job
    assert stats.collect(conn, settings)["reconciled"]["ok"]


class ParserBug(Exception):
    """Stands for a bug no test foresaw."""


def test_an_unexpected_exception_in_a_parser_is_dead_lettered_as_internal_error(conn, settings, work, monkeypatch):
    from workers import parsers

    real = parsers.PARSERS["text"]

    def buggy(raw, body):
        if raw.blog_id == "broken":
            raise ParserBug("list index out of range in a stamp the parser never saw")
        return real(raw, body)

    monkeypatch.setitem(parsers.PARSERS, "text", buggy)
    broken = doc(STORM.read_bytes(), blog_id="broken")
    assert submit(conn, broken, settings)
    assert submit(conn, doc(STORM.read_bytes()), settings)  # queued behind it
    work()
    letter = dead_letters(conn)["broken.txt"]
    assert letter["reason"] == "internal error"
    assert letter["expected"] == "a document the parsers can handle"
    assert letter["found"] == "ParserBug: list index out of range in a stamp the parser never saw"
    assert letter["document_id"] == broken.document_id and '"blog_id": "broken"' in letter["raw"]
    assert conn.xlen("liveblog:{storm}:events") == 22  # the worker went on with the next document
    report = stats.collect(conn, settings)
    assert report["counters"]["documents_dead_lettered"] == 1 and report["counters"]["documents_processed"] == 1
    assert report["jobs"]["failed"] == 0  # handled inside the job: RQ saw no failure, no retry
    assert report["reconciled"]["ok"]


def record_callback(job, connection, *_rest) -> None:
    """A callback RQ would resolve by its dotted name: proof that it ran, kept in Redis."""
    connection.rpush("test:callbacks-ran", job.id)


CALLBACK = "tests.test_jobs.record_callback"
CALLBACKS = {
    "on_success": (lambda: {"on_success": Callback(CALLBACK)}, f"on_success callback {CALLBACK!r}"),
    "on_failure": (lambda: {"on_failure": Callback(CALLBACK)}, f"on_failure callback {CALLBACK!r}"),
    "on_stopped": (lambda: {"on_stopped": Callback(CALLBACK)}, f"on_stopped callback {CALLBACK!r}"),
    "all three": (lambda: {"on_success": Callback(CALLBACK), "on_failure": Callback(CALLBACK),
                           "on_stopped": Callback(CALLBACK)},
                  f"on_success callback {CALLBACK!r}; on_failure callback {CALLBACK!r}; "
                  f"on_stopped callback {CALLBACK!r}"),
    "webhook": (lambda: {"webhooks": [Webhook("http://127.0.0.1:9/hook", "finished")]},
                "webhooks to ['http://127.0.0.1:9/hook']"),
}


@pytest.mark.parametrize("case", sorted(CALLBACKS))
def test_an_allowed_job_carrying_a_callback_is_refused_before_anything_runs(conn, settings, work, case):
    extra, found = CALLBACKS[case]
    queue = Queue(settings.ingest_queue, connection=conn, serializer=JSONSerializer)
    smuggled = queue.enqueue(JOB_PROCESS_DOCUMENT, doc(STORM.read_bytes(), blog_id="smuggled").encode(), **extra())
    submit(conn, doc(STORM.read_bytes()), settings)
    work()
    assert conn.lrange("test:callbacks-ran", 0, -1) == []  # the callback never ran
    letter = dead_letters(conn)[f"rq job {smuggled.id}"]
    assert letter["reason"] == "job refused"
    assert letter["expected"] == f"a {JOB_PROCESS_DOCUMENT} job with no callbacks, dependencies or webhooks"
    assert letter["found"] == found
    assert not conn.exists(smuggled.key)  # removed: never run, never retried
    assert int(conn.hget("liveblog:stats", "jobs_refused")) == 1
    assert not conn.exists("liveblog:{smuggled}:events")  # its document was not processed either
    assert conn.xlen("liveblog:events") == 22  # the worker went on with the real job
    assert stats.collect(conn, settings)["reconciled"]["ok"]


def test_an_allowed_job_with_a_dependency_is_refused_when_it_comes_due(conn, settings, work):
    queue = Queue(settings.ingest_queue, connection=conn, serializer=JSONSerializer)
    first = queue.enqueue(JOB_PROCESS_DOCUMENT, doc(STORM.read_bytes()).encode())
    chained = queue.enqueue(JOB_PROCESS_DOCUMENT, doc(STORM.read_bytes(), blog_id="chained").encode(),
                            depends_on=first)
    work()
    assert conn.xlen("liveblog:{storm}:events") == 22  # the job without a dependency ran
    letter = dead_letters(conn)[f"rq job {chained.id}"]
    assert letter["reason"] == "job refused"
    assert letter["found"] == f"dependencies on jobs [{first.id!r}]"
    assert not conn.exists("liveblog:{chained}:events") and not conn.exists(chained.key)
    assert int(conn.hget("liveblog:stats", "jobs_refused")) == 1


class FlakyEnricher(PlainEnricher):
    """Loses its Redis connection once, the way a failover would."""

    def __init__(self) -> None:
        self.calls = 0

    def enrich(self, post, context):
        self.calls += 1
        if self.calls == 1:
            import redis

            raise redis.ConnectionError("connection reset by peer (simulated)")
        return super().enrich(post, context)


def test_a_burst_run_waits_for_the_retry_a_transient_error_scheduled(conn, settings):
    from liveblog.cli import _work

    settings = settings.model_copy(update={"retry_intervals_s": (1,)})
    assert submit(conn, doc(STORM.read_bytes()), settings)
    try:
        _work(conn, settings, burst=True, enricher=FlakyEnricher())
    finally:
        runtime.configure(settings)
    report = stats.collect(conn, settings)
    assert report["counters"]["documents_processed"] == 1 and report["jobs"]["scheduled"] == 0
    assert conn.xlen("liveblog:events") == 22 and report["reconciled"]["ok"]


def _registered_worker(conn, settings) -> LiveblogWorker:
    """A liveblog worker registered in Redis, not working: its bookkeeping is called directly."""
    runtime.configure(settings, PlainEnricher())
    worker = LiveblogWorker([ingest_queue(conn, settings)], connection=conn, serializer=JSONSerializer)
    worker.register_birth()
    return worker


def test_heartbeats_go_in_one_round_trip_and_never_leave_a_longer_ttl_than_rq_would(conn, settings, monkeypatch):
    worker = _registered_worker(conn, settings)
    sent: list[int] = []
    real_pipeline = conn.pipeline

    def counting_pipeline(*args, **kwargs):
        pipe = real_pipeline(*args, **kwargs)
        real_execute = pipe.execute
        pipe.execute = lambda *a, **k: sent.append(len(pipe.command_stack)) or real_execute(*a, **k)
        return pipe

    monkeypatch.setattr(conn, "pipeline", counting_pipeline)
    worker_ttl = worker.worker_ttl + 60
    worker.heartbeat()
    # HEXISTS birth (is the record still there?), HSET last_heartbeat, EXPIRE worker key, EXPIRE
    # executions key: one round trip
    assert sent == [4]
    assert worker_ttl - 2 <= conn.ttl(worker.key) <= worker_ttl
    worker.heartbeat()  # the same TTL again within a second: nothing new to say
    assert sent == [4]
    # a job's longer TTL, sent inside RQ's own pipeline, then the worker's own TTL again:
    # the second is sent even within the second, so the key is back on the worker's TTL
    with conn.pipeline() as pipe:
        worker.heartbeat(worker_ttl + 500, pipeline=pipe)
        pipe.execute()
    assert conn.ttl(worker.key) > worker_ttl
    worker.heartbeat()
    assert conn.ttl(worker.key) <= worker_ttl
    assert conn.hget(worker.key, "last_heartbeat")
    worker.register_death()
    runtime.configure(settings)


def test_the_worker_state_is_not_written_twice_in_a_row_but_always_when_it_changes(conn, settings, monkeypatch):
    worker = _registered_worker(conn, settings)
    writes: list[str] = []
    real_hset = conn.hset

    def counting_hset(name, *args, **kwargs):
        if name == worker.key and (args[:1] == ("state",) or kwargs.get("key") == "state"):
            writes.append(args[1] if len(args) > 1 else kwargs.get("value"))
        return real_hset(name, *args, **kwargs)

    monkeypatch.setattr(conn, "hset", counting_hset)
    worker.set_state("idle")
    worker.set_state("idle")  # within a second, the same state: not sent again
    assert writes == ["idle"] and worker.get_state() == "idle"
    worker.set_state("busy")
    assert writes == ["idle", "busy"] and conn.hget(worker.key, "state") == b"busy"
    with conn.pipeline() as pipe:  # inside a transaction (RQ's job start): always queued ...
        worker.set_state("idle", pipeline=pipe)
        pipe.execute()
    worker.set_state("idle")  # ... and the next direct write is sent, as if nothing were known
    assert writes == ["idle", "busy", "idle"] and conn.hget(worker.key, "state") == b"idle"
    worker.register_death()
    runtime.configure(settings)


def test_a_finished_job_keeps_its_last_heartbeat_without_a_round_trip_of_its_own(conn, settings, work, monkeypatch):
    from producers.enqueue import job_id_for
    from rq.job import Job

    direct: list[str] = []  # job heartbeats sent on their own, outside RQ's transactions
    real_heartbeat = Job.heartbeat

    def heartbeat(self, timestamp, ttl, pipeline=None, xx=False):
        if pipeline is None:
            direct.append(self.id)
        return real_heartbeat(self, timestamp, ttl, pipeline=pipeline, xx=xx)

    monkeypatch.setattr(Job, "heartbeat", heartbeat)
    raw = doc(STORM.read_bytes())
    assert submit(conn, raw, settings)
    work()
    assert direct == []
    job = Job.fetch(job_id_for(raw.document_id), connection=conn, serializer=JSONSerializer)
    assert job.get_status() == "finished"
    assert job.last_heartbeat is not None and job.started_at <= job.last_heartbeat
    assert abs((job.last_heartbeat - job.ended_at).total_seconds()) < 0.001  # set as it ended, saved with it


def test_a_job_saved_by_the_worker_keeps_the_payload_bytes_the_producer_wrote(conn, settings, work):
    from rq.job import Job

    from producers.enqueue import job_id_for
    from workers.worker import LiveblogJob

    raw = doc(STORM.read_bytes())
    assert submit(conn, raw, settings)
    key = f"rq:job:{job_id_for(raw.document_id)}"
    written = conn.hget(key, "data")
    work()
    assert conn.hget(key, "status") == b"finished"
    assert conn.hget(key, "data") == written  # saved again on success, not re-compressed
    again = Job.fetch(job_id_for(raw.document_id), connection=conn, serializer=JSONSerializer)
    assert list(again.args) == [raw.encode()]  # JSON: the tuple comes back as a list
    # a payload changed after reading is compressed as RQ always does
    job = LiveblogJob.fetch(job_id_for(raw.document_id), connection=conn, serializer=JSONSerializer)
    assert job.func_name == JOB_PROCESS_DOCUMENT  # read the payload, then change it
    job.args = ({"changed": True},)
    job.save()
    assert zlib.decompress(conn.hget(key, "data")) != zlib.decompress(written)
    assert list(LiveblogJob.fetch(job.id, connection=conn, serializer=JSONSerializer).args) == [{"changed": True}]


def test_a_stop_request_lost_inside_rq_maintenance_still_stops_an_idle_worker(conn, settings, monkeypatch):
    """RQ stops an idle worker by raising StopRequested from the signal handler; inside its
    maintenance some code catches every Exception, which loses the signal. Simulated: the
    request arrives inside a maintenance step that swallows it."""
    import signal
    import time

    import workers.worker as worker_mod

    runtime.configure(settings, PlainEnricher())
    worker = LiveblogWorker([ingest_queue(conn, settings)], connection=conn, serializer=JSONSerializer,
                            worker_ttl=16)  # RQ blocks ~1 s per dequeue with this TTL

    def maintenance_that_swallows(queue, handlers):
        try:
            worker.request_stop(signal.SIGTERM, None)  # what the signal handler runs
        except Exception:  # noqa: BLE001 - RQ's own maintenance does this
            pass

    monkeypatch.setattr(worker_mod, "clean_registries", maintenance_that_swallows)
    started = time.monotonic()
    try:
        worker.work(max_idle_time=10)  # signals need the main thread; 10 s idle ends it if the fix fails
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # RQ leaves its force-stop handlers installed
        signal.signal(signal.SIGINT, signal.default_int_handler)
        runtime.configure(settings)
    assert time.monotonic() - started < 5, "it ran on until idle: the stop request was lost"


def test_tune_gc_freezes_what_warm_up_built_and_raises_the_first_threshold() -> None:
    """Run in a child: freezing and thresholds are per process, and the suite's own must not change."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import gc, json\n"
        "from workers import runtime\n"
        "before = gc.get_freeze_count()\n"
        "runtime.tune_gc()\n"
        "print(json.dumps([before, gc.get_freeze_count(), list(gc.get_threshold()), gc.isenabled()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    before, frozen, thresholds, enabled = json.loads(out.stdout)
    from workers.runtime import GC_THRESHOLDS

    assert before == 0 and frozen > 1000  # the imported modules' objects, out of the collector's sight
    assert thresholds == list(GC_THRESHOLDS) and thresholds[0] > 700 and enabled  # raised, never disabled


def test_a_document_is_processed_with_the_collector_paused_and_resumed_after(conn, settings, work, monkeypatch):
    import gc

    from workers.pipeline import DocumentProcessor

    seen = []
    real = DocumentProcessor.process

    def recording(self, raw):
        seen.append(gc.isenabled())
        if raw.blog_id == "broken":
            raise ParserBug("a bug in the middle of a document")
        return real(self, raw)

    monkeypatch.setattr(DocumentProcessor, "process", recording)
    assert gc.isenabled()
    assert submit(conn, doc(STORM.read_bytes(), blog_id="broken"), settings)
    assert submit(conn, doc(STORM.read_bytes()), settings)
    work()
    assert seen == [False, False]  # no collection inside either document, the failing one included
    assert gc.isenabled()  # and back on after both
    counters = stats.collect(conn, settings)["counters"]
    assert counters["documents_processed"] == 1 and counters["documents_dead_lettered"] == 1


def test_collector_paused_leaves_a_disabled_collector_disabled() -> None:
    import gc

    gc.disable()
    try:
        with runtime.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(ZeroDivisionError):
        with runtime.collector_paused():
            1 / 0
    assert gc.isenabled()


@pytest.mark.parametrize("worker_class", ["liveblog", "naive"])
def test_a_worker_leaves_its_command_channel_within_seconds_whatever_the_thread_was_doing(conn, settings,
                                                                                          worker_class):
    """RQ listens for commands on a pub/sub thread that waits up to ``sleep_time`` per loop; with
    redis-py 8 ``stop()`` joins that thread. When the thread has already read the unsubscribe
    reply before the stop flag is cleared (a loaded machine), it waits for a subscription
    that never comes: RQ's 60 s held every stopping worker (burst pools included) that long.
    Forced here: the thread is left unsubscribed before the worker's own teardown runs. The
    bench's naive baseline worker (RQ's forking Worker) shares the fix: half its burst runs
    ended a minute after their last job."""
    import time

    from liveblog.benchkit.naive import NaiveWorker

    runtime.configure(settings, PlainEnricher())
    cls = LiveblogWorker if worker_class == "liveblog" else NaiveWorker
    worker = cls([ingest_queue(conn, settings)], connection=conn, serializer=JSONSerializer)
    try:
        worker.subscribe()
        worker.pubsub.unsubscribe()
        deadline = time.monotonic() + 5
        while worker.pubsub.subscribed and time.monotonic() < deadline:  # the thread reads the reply
            time.sleep(0.05)
        assert not worker.pubsub.subscribed
        time.sleep(0.2)  # ... and goes back to waiting for a subscription
        started = time.monotonic()
        worker.unsubscribe()
        took = time.monotonic() - started
    finally:
        runtime.configure(settings)
    assert not worker.pubsub_thread.is_alive()
    assert took < 3, f"leaving the command channel took {took:.1f} s"


def test_a_jobs_timeout_grows_with_its_document(conn, settings):
    # the setting's 20 s for a page of a few KB, plus 20 s per MB: a 20,000-post document of
    # 11 MB timed out on each of its six attempts at a flat 60 s before one finished
    small, large = doc(STORM.read_bytes(), blog_id="small"), doc(b"x" * 2_500_000, blog_id="large")
    assert submit(conn, small, settings) and submit(conn, large, settings)
    queue = ingest_queue(conn, settings)
    timeouts = {job.args[0]["blog_id"]: job.timeout for job in queue.get_jobs()}
    assert timeouts == {"small": settings.job_timeout_s + 1, "large": settings.job_timeout_s + 50}
    flat = settings.model_copy(update={"job_timeout_per_mb_s": 0})
    assert submit(conn, doc(b"y" * 2_500_000, blog_id="flat"), flat)
    assert [j.timeout for j in queue.get_jobs() if j.args[0]["blog_id"] == "flat"] == [settings.job_timeout_s]
