"""Webhook delivery against a loopback receiver: signed, retried with backoff, once by webhook-id."""

from __future__ import annotations

import base64
import json
import random

import pytest
from structlog.testing import capture_logs

from liveblog import consume
from liveblog.dispatch import Dispatcher, TargetRejected, backoff_s, check_target
from schemas.keys import Keys
from schemas.subscriptions import Rule, Subscription
from tests.alerts.receiver import Receiver
from tests.conftest import run_cli
from tests.dedup.pages import FLOOD, OTHER_FLOOD, page, post
from tests.helpers import PlainEnricher, counters
from workers.alerts import store
from workers.pipeline import DocumentProcessor

pytestmark = pytest.mark.redis
KEYS = Keys()
SECRET = "whsec_" + base64.b64encode(b"a test secret of 24 bytes").decode()


@pytest.fixture
def fast(settings):
    return settings.model_copy(update={"webhook_backoff_base_s": 0.02, "webhook_backoff_max_s": 0.1,
                                       "webhook_attempts": 4, "webhook_timeout_s": 2.0})


def alert_once(conn, settings, url: str) -> str:
    store.save(conn, KEYS, Subscription(name="desk", rule=Rule(keyword="Tessel"), webhook_url=url,
                                        webhook_secret=SECRET))
    DocumentProcessor(conn, settings, PlainEnricher()).process(
        page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)], minutes_after=5))
    (_, fields), = conn.xrange(KEYS.alerts("desk"))
    return fields[b"id"].decode()


def deliveries(conn) -> list[dict]:
    return [{k.decode(): v.decode() for k, v in f.items()} for _, f in conn.xrange(KEYS.deliveries)]


def test_receiver_fails_twice_then_gets_the_alert_once_with_a_valid_signature(conn, fast):
    with Receiver(SECRET, fail_first=2) as receiver:
        alert_id = alert_once(conn, fast, receiver.url)
        with capture_logs() as logs:
            settled = Dispatcher(conn, fast, allow_private=True, rng=random.Random(1)).run(burst=True)
    assert settled == 1
    assert len(receiver.requests) == 3 and all(r["verified"] for r in receiver.requests)
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {alert_id}
    assert list(receiver.received) == [alert_id]
    body = receiver.received[alert_id][1]
    assert body["type"] == "liveblog.alert" and body["subscription"] == "desk"
    assert body["event"]["data"]["post"]["title"] == "River Tessel bursts its banks at Keldby"
    assert [d["outcome"] for d in deliveries(conn)] == ["retry", "retry", "sent"]
    assert counters(conn)["alerts_sent"] == 1 and counters(conn).get("alerts_failed", 0) == 0
    assert conn.xpending(KEYS.alerts("desk"), "dispatch")["pending"] == 0
    secret_body = SECRET.removeprefix("whsec_")
    assert not any(secret_body in json.dumps(entry, default=str) for entry in logs)


def test_an_alert_is_dead_lettered_after_the_last_attempt(conn, fast):
    with Receiver(SECRET, fail_first=100, status_on_failure=503) as receiver:
        alert_id = alert_once(conn, fast, receiver.url)
        Dispatcher(conn, fast, allow_private=True).run(burst=True)
    assert len(receiver.requests) == fast.webhook_attempts and receiver.received == {}
    (_, dead), = conn.xrange(KEYS.alerts_dead_letter)
    assert dead[b"id"].decode() == alert_id and dead[b"reason"] == b"HTTP 503" and dead[b"attempts"] == b"4"
    assert counters(conn)["alerts_failed"] == 1 and counters(conn).get("alerts_sent", 0) == 0
    assert conn.xpending(KEYS.alerts("desk"), "dispatch")["pending"] == 0


def test_a_dispatcher_that_died_mid_delivery_leaves_the_alert_to_the_next(conn, fast):
    with Receiver(SECRET) as receiver:
        alert_id = alert_once(conn, fast, receiver.url)
        dead = Dispatcher(conn, fast, allow_private=True, consumer="dead")
        dead._refresh(first=True)  # creates the group
        conn.xreadgroup("dispatch", "dead", {KEYS.alerts("desk"): ">"})  # took it, then crashed
        Dispatcher(conn, fast, allow_private=True, consumer="alive", claim_idle_ms=0).run(burst=True)
    assert list(receiver.received) == [alert_id] and len(receiver.requests) == 1


def test_private_and_loopback_targets_are_refused_unless_allowed(conn, fast):
    with pytest.raises(TargetRejected, match="loopback"):
        check_target("http://127.0.0.1:9/hook", allow_private=False)
    with pytest.raises(TargetRejected, match="private"):
        check_target("http://10.1.2.3/hook", allow_private=False, resolver=lambda h, p: ["10.1.2.3"])
    check_target("https://hooks.example/x", allow_private=False, resolver=lambda h, p: ["93.184.216.34"])
    with Receiver(SECRET) as receiver:
        alert_once(conn, fast, receiver.url)
        Dispatcher(conn, fast, allow_private=False).run(burst=True)  # refused: never retried
    assert receiver.requests == []
    (_, dead), = conn.xrange(KEYS.alerts_dead_letter)
    assert b"loopback" in dead[b"reason"] and dead[b"attempts"] == b"1"


def test_backoff_doubles_with_jitter_and_is_bounded(fast):
    rng = random.Random(7)
    delays = [backoff_s(n, fast, rng) for n in range(1, 10)]
    assert all(0.5 * min(0.1, 0.02 * 2 ** (n - 1)) <= d <= min(0.1, 0.02 * 2 ** (n - 1))
               for n, d in zip(range(1, 10), delays))


def test_the_cli_masks_secrets_and_refuses_loopback_webhooks(redis_url):
    refused = run_cli("subscribe", "add", "desk", "--keyword", "fire", "--webhook", "http://127.0.0.1:9/x",
                      redis_url=redis_url)
    assert refused.returncode == 2 and b"loopback" in refused.stderr
    added = run_cli("subscribe", "add", "desk", "--keyword", "fire", "--topic", "weather", "--webhook",
                    "http://127.0.0.1:9/x", "--allow-private", "--secret", SECRET, redis_url=redis_url)
    assert added.returncode == 0, added.stderr.decode()
    listed = run_cli("subscribe", "list", "--json", redis_url=redis_url)
    assert json.loads(listed.stdout) == {"name": "desk", "rule": {"all": [{"keyword": "fire"}, {"topic": "weather"}]},
                                         "webhook_url": "http://127.0.0.1:9/x", "webhook_secret": "set",
                                         "notify": []}
    dispatched = run_cli("--log-level", "DEBUG", "dispatch", "--burst", "--allow-private", redis_url=redis_url)
    for out in (added, listed, dispatched):
        assert SECRET.encode() not in out.stdout + out.stderr
    assert run_cli("subscribe", "remove", "desk", redis_url=redis_url).returncode == 0
    assert run_cli("subscribe", "remove", "desk", redis_url=redis_url).returncode == 2


def test_a_webhook_host_this_machine_cannot_resolve_is_added_with_a_warning(redis_url):
    # .invalid never resolves (RFC 2606); the dispatcher, maybe elsewhere, checks every delivery
    added = run_cli("subscribe", "add", "desk", "--keyword", "fire", "--webhook", "https://hooks.invalid/liveblog",
                    redis_url=redis_url)
    assert added.returncode == 0, added.stderr.decode()
    assert b"cannot resolve host 'hooks.invalid'" in added.stderr and b"added anyway" in added.stderr
    listed = run_cli("subscribe", "list", "--json", redis_url=redis_url)
    assert json.loads(listed.stdout)["webhook_url"] == "https://hooks.invalid/liveblog"


def test_apprise_delivery_retries_then_reaches_the_service_and_hides_its_url(conn, fast):
    """Through Apprise's json:// service to a loopback endpoint: the first try fails (500),
    the retry delivers the alert's title and body; the URL (it carries tokens) is masked."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got: list[dict] = []

    class Service(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            got.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(500 if len(got) == 1 else 200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"json://127.0.0.1:{server.server_address[1]}/notify?token-in-url=s3cr3t"
        store.save(conn, KEYS, Subscription(name="pager", rule=Rule(keyword="Tessel"), notify_urls=(url,)))
        DocumentProcessor(conn, fast, PlainEnricher()).process(
            page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)], minutes_after=5))
        with capture_logs() as logs:
            settled = Dispatcher(conn, fast, rng=random.Random(1)).run(burst=True)
    finally:
        server.shutdown()
        server.server_close()
    assert settled == 1 and len(got) == 2
    assert got[1]["title"] == "[pager] River Tessel bursts its banks at Keldby"
    assert "Tessel" in got[1]["message"]
    assert [d["outcome"] for d in deliveries(conn)] == ["retry", "sent"]
    assert counters(conn)["alerts_sent"] == 1
    (stored,) = [s for s in store.load(conn, KEYS)[1] if s.name == "pager"]
    assert stored.public()["notify"] == ["json://***"]
    assert "s3cr3t" not in json.dumps(logs, default=str) + repr(stored)


def test_a_subscription_has_a_webhook_or_apprise_urls_not_both():
    with pytest.raises(ValueError, match="found both"):
        Subscription(name="x", rule=Rule(keyword="a"), webhook_url="https://example.org/h", webhook_secret=SECRET,
                     notify_urls=("ntfys://topic",))


@pytest.mark.parametrize("bad", ["notbase64", "whsec_!!", "whsec_", "whsec_a b"])
def test_a_secret_that_is_not_whsec_base64_is_refused_by_subscribe_add(redis_url, bad):
    added = run_cli("subscribe", "add", "desk", "--keyword", "fire", "--webhook", "http://127.0.0.1:9/x",
                    "--allow-private", "--secret", bad, redis_url=redis_url)
    assert added.returncode == 2 and b"Traceback" not in added.stderr
    assert b"expected whsec_ followed by base64" in added.stderr
    assert run_cli("subscribe", "list", redis_url=redis_url).stdout == b""


def test_a_secret_given_without_a_webhook_is_refused(redis_url):
    added = run_cli("subscribe", "add", "desk", "--keyword", "fire", "--secret", SECRET, redis_url=redis_url)
    assert added.returncode == 2 and b"--secret signs webhook deliveries: give --webhook too" in added.stderr


def test_a_stored_secret_that_cannot_sign_dead_letters_its_alerts_and_others_still_flow(conn, fast):
    """A subscription written before secrets were checked (or by hand): the dispatcher used to
    die on binascii.Error at every start, holding every other subscriber's alerts."""
    with Receiver(SECRET) as receiver:
        store.save(conn, KEYS, Subscription(name="broken", rule=Rule(keyword="Tessel"), webhook_url=receiver.url,
                                            webhook_secret="notbase64"))
        good_alert = alert_once(conn, fast, receiver.url)
        settled = Dispatcher(conn, fast, allow_private=True).run(burst=True)
    assert settled == 2 and list(receiver.received) == [good_alert]
    (_, dead), = conn.xrange(KEYS.alerts_dead_letter)
    assert dead[b"subscription"] == b"broken" and dead[b"attempts"] == b"1"
    assert b"webhook secret" in dead[b"reason"] and b"notbase64" not in dead[b"reason"]


def test_an_apprise_url_apprise_does_not_know_is_dead_lettered_not_a_crash(conn, fast):
    # TargetRejected required url=..., so this refusal raised TypeError out of the dispatcher
    store.save(conn, KEYS, Subscription(name="pager", rule=Rule(keyword="Tessel"),
                                        notify_urls=("nosuchservice://x",)))
    DocumentProcessor(conn, fast, PlainEnricher()).process(
        page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)], minutes_after=5))
    assert Dispatcher(conn, fast).run(burst=True) == 1
    (_, dead), = conn.xrange(KEYS.alerts_dead_letter)
    assert b"not one Apprise understands" in dead[b"reason"] and dead[b"attempts"] == b"1"


def test_alerts_left_undelivered_by_an_unsubscribe_are_not_sent_when_the_name_is_subscribed_again(conn, fast):
    with Receiver(SECRET) as receiver:
        alert_once(conn, fast, receiver.url)  # committed, never delivered (no dispatcher yet)
        assert run_cli("subscribe", "remove", "desk", redis_url=fast.redis_url).returncode == 0
        again = run_cli("subscribe", "add", "desk", "--keyword", "Sallow", "--webhook", receiver.url,
                        "--allow-private", "--secret", SECRET, redis_url=fast.redis_url)
        assert again.returncode == 0, again.stderr.decode()
        DocumentProcessor(conn, fast, PlainEnricher()).process(
            page([post("s", 7, "Family lifted from farmhouse at Sallow End", OTHER_FLOOD)], minutes_after=5))
        Dispatcher(conn, fast, allow_private=True).run(burst=True)
    titles = [body["event"]["data"]["post"]["title"] for _, body in receiver.received.values()]
    assert titles == ["Family lifted from farmhouse at Sallow End"]  # not the Tessel alert of the old rule


def test_a_webhook_added_to_a_subscription_gets_the_alerts_after_it_not_the_backlog(conn, fast):
    added = run_cli("subscribe", "add", "desk", "--any", "--keyword", "Tessel", "--keyword", "Sallow",
                    redis_url=fast.redis_url)
    assert added.returncode == 0, added.stderr.decode()
    processor = DocumentProcessor(conn, fast, PlainEnricher())
    processor.process(page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD)], minutes_after=5))
    assert conn.xlen(KEYS.alerts("desk")) == 1  # an alert with nowhere to go: the stream and feed keep it
    with Receiver(SECRET) as receiver:
        hooked = run_cli("subscribe", "add", "desk", "--any", "--keyword", "Tessel", "--keyword", "Sallow",
                         "--webhook", receiver.url, "--allow-private", "--secret", SECRET, redis_url=fast.redis_url)
        assert hooked.returncode == 0, hooked.stderr.decode()
        processor.process(page([post("o", 6, "River Tessel bursts its banks at Keldby", FLOOD),
                                post("s", 7, "Family lifted from farmhouse at Sallow End", OTHER_FLOOD)],
                               minutes_after=5))
        Dispatcher(conn, fast, allow_private=True).run(burst=True)
    titles = [body["event"]["data"]["post"]["title"] for _, body in receiver.received.values()]
    assert titles == ["Family lifted from farmhouse at Sallow End"]


def test_a_slow_receiver_does_not_hold_back_other_subscribers(conn, fast):
    """One subscriber's receiver hangs (up to the timeout); another's alert is delivered meanwhile."""
    import threading
    import time

    hold = threading.Event()
    patient = fast.model_copy(update={"webhook_timeout_s": 8.0})
    with Receiver(SECRET, hold=hold) as slow, Receiver(SECRET) as quick:
        store.save(conn, KEYS, Subscription(name="a-slow", rule=Rule(keyword="Tessel"), webhook_url=slow.url,
                                            webhook_secret=SECRET))  # read first: its stream sorts first
        alert_id = alert_once(conn, patient, quick.url)
        dispatcher = Dispatcher(conn, patient, allow_private=True)
        deadline = time.monotonic() + 30
        while not quick.received and time.monotonic() < deadline:
            dispatcher.step(block_ms=50)
        slow_outcomes = [d["outcome"] for d in deliveries(conn) if d["subscription"] == "a-slow"]
        hold.set()
        assert list(quick.received) == [alert_id]
        assert slow_outcomes == []  # the quick alert did not wait for the slow receiver's timeout
        while (dispatcher.retries or dispatcher.busy) and time.monotonic() < deadline:
            dispatcher.step(block_ms=50)
    assert len(slow.received) == 1 and counters(conn)["alerts_sent"] == 2


def test_editing_the_rule_keeps_the_signing_secret_the_receiver_was_given(redis_url, conn):
    first = run_cli("subscribe", "add", "desk", "--keyword", "fire", "--webhook", "http://127.0.0.1:9/x",
                    "--allow-private", redis_url=redis_url)
    secret = first.stdout.decode().strip()
    assert first.returncode == 0 and secret.startswith("whsec_")
    edited = run_cli("subscribe", "add", "desk", "--keyword", "flood", "--webhook", "http://127.0.0.1:9/x",
                     "--allow-private", redis_url=redis_url)
    assert edited.returncode == 0, edited.stderr.decode()
    assert edited.stdout == b"" and b"kept its signing secret" in edited.stderr
    stored = store.get(conn, KEYS, "desk")
    assert stored.rule == Rule(keyword="flood") and stored.webhook_secret.get_secret_value() == secret


@pytest.mark.parametrize("consumer", ["dead", "same"])
def test_an_alert_trimmed_before_it_was_delivered_is_reported_not_lost_silently(conn, fast, consumer):
    """A dispatcher took the alert and died; retention trimmed the stream before the next one
    claimed it (another consumer) or re-read it (the same --consumer name: fields come back empty)."""
    with Receiver(SECRET) as receiver:
        alert_once(conn, fast, receiver.url)
        consume.ensure_group(conn, KEYS.alerts("desk"), "dispatch")
        (entry_id, _), = conn.xreadgroup("dispatch", consumer, {KEYS.alerts("desk"): ">"})[0][1]
        conn.xdel(KEYS.alerts("desk"), entry_id)  # what MAXLEN ~ does to an old entry
        with capture_logs() as logs:
            settled = Dispatcher(conn, fast, allow_private=True, consumer="same", claim_idle_ms=60_000).run(burst=True)
    assert settled == 0 and receiver.requests == []
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["alert_lost"]
    assert [d["outcome"] for d in deliveries(conn)] == ["lost"]
    assert conn.xpending(KEYS.alerts("desk"), "dispatch")["pending"] == 0


def test_sigterm_lets_the_request_in_flight_finish_and_record_it(redis_url, conn, settings):
    """`docker stop` sends SIGTERM: the dispatcher ends its round, the request in flight finishes and is
    recorded as sent and acknowledged, and it exits 0 (the default handler killed it mid-request, so the
    next dispatcher sent the alert again)."""
    import signal
    import subprocess
    import sys
    import threading
    import time

    from tests.conftest import ROOT, cli_env

    hold = threading.Event()
    with Receiver(SECRET, hold=hold) as receiver:
        alert_id = alert_once(conn, settings, receiver.url)
        proc = subprocess.Popen([sys.executable, "-m", "liveblog.cli", "dispatch", "--allow-private"], cwd=ROOT,
                                env=cli_env(redis_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert receiver.arrived.wait(60), "the dispatcher never sent the alert"
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)  # the signal is in before the receiver answers
            hold.set()
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err.decode()
    assert list(receiver.received) == [alert_id]
    assert [(d["alert_id"], d["outcome"]) for d in deliveries(conn)] == [(alert_id, "sent")]
    assert counters(conn)["alerts_sent"] == 1
    groups = conn.xinfo_groups(KEYS.alerts("desk"))
    assert [g["pending"] for g in groups] == [0]
