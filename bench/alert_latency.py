"""Alert latency, commit to webhook received: ``python bench/alert_latency.py [--alerts N] [--json]``.

Commit time is the alert's stream entry id (Redis' clock when the commit script's XADD
ran); receive time is the loopback receiver's clock when the POST arrived (the same host,
so the same clock). In between: the dispatcher's XREADGROUP wake-up, signing, the HTTP
exchange and the receiver's signature check. Documents are committed one at a time,
``--interval-ms`` apart, each with one post that matches one subscription, while one
dispatcher runs in a thread. Starts a private redis-server on a free port unless
``--redis-url`` is given (that database must be empty). Results: docs/alerts.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from liveblog import logs  # noqa: E402
from liveblog.benchmark import PrivateRedis  # noqa: E402
from liveblog.dispatch import Dispatcher  # noqa: E402
from schemas.documents import ParseOptions, RawDocument  # noqa: E402
from schemas.keys import Keys  # noqa: E402
from schemas.settings import Settings  # noqa: E402
from schemas.subscriptions import Rule, Subscription  # noqa: E402
from tests.alerts.receiver import Receiver  # noqa: E402
from tests.helpers import PlainEnricher  # noqa: E402
from workers.alerts import store  # noqa: E402
from workers.pipeline import DocumentProcessor  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"alert latency benchmark!").decode()
T0 = datetime(2025, 5, 1, 8, 0, tzinfo=timezone.utc)


def document(i: int, rng: random.Random) -> RawDocument:
    """One post with words no other post shares, so every post is its own story."""
    words = " ".join(f"w{rng.randrange(10**9)}" for _ in range(40))
    when = T0 + timedelta(minutes=i)
    text = (f"Bench blog\n\nBreaking item {i} alertme\n\n{when:%A} {when.day} {when:%B %Y %H:%M} , Desk\n\n"
            f"Alertme {words}.\n")
    return RawDocument.from_bytes(text.encode(), blog_id="bench", source="bench.txt",
                                  fetched_at=when + timedelta(seconds=30), options=ParseOptions(tz="UTC"))


def measure(url: str, alerts: int, interval_ms: int) -> dict:
    conn = redis.Redis.from_url(url)
    if conn.dbsize():
        raise SystemExit(f"refusing to run on a non-empty database at {url}")
    settings = Settings(redis_url=url)
    keys = Keys()
    stop = threading.Event()
    with Receiver(SECRET) as receiver:
        store.save(conn, keys, Subscription(name="bench", rule=Rule(keyword="alertme"), webhook_url=receiver.url,
                                            webhook_secret=SECRET))
        dispatcher = Dispatcher(redis.Redis.from_url(url), settings, allow_private=True)
        dispatcher._refresh(first=True)

        def loop() -> None:
            while not stop.is_set():
                dispatcher.step(block_ms=100)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        processor = DocumentProcessor(conn, settings, PlainEnricher())
        rng = random.Random(20250501)
        for i in range(alerts):
            processor.process(document(i, rng))
            time.sleep(interval_ms / 1000)
        deadline = time.monotonic() + 30
        while len(receiver.received) < alerts and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        thread.join(5)
        committed = {f[b"id"].decode(): int(i.decode().split("-")[0]) / 1000 for i, f in conn.xrange(keys.alerts("bench"))}
        latencies = sorted((receiver.received[a][0] - t) * 1000 for a, t in committed.items() if a in receiver.received)
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {"alerts_committed": len(committed), "alerts_received": len(latencies),
            "requests": len(receiver.requests), "p50_ms": round(q[49], 2), "p99_ms": round(q[98], 2),
            "max_ms": round(latencies[-1], 2), "min_ms": round(latencies[0], 2), "interval_ms": interval_ms}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=300)
    parser.add_argument("--interval-ms", type=int, default=10)
    parser.add_argument("--redis-url")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logs.configure("console", "WARNING")  # one line per delivery would be measured too
    server = None if args.redis_url else PrivateRedis().start()
    try:
        result = measure(args.redis_url or server.url, args.alerts, args.interval_ms)
    finally:
        if server:
            server.stop()
    if args.json:
        print(json.dumps(result))
    else:
        print("alert latency, commit -> webhook received: {alerts_received}/{alerts_committed} alerts, "
              "p50 {p50_ms} ms, p99 {p99_ms} ms, max {max_ms} ms (one every {interval_ms} ms)".format(**result))
    return 0 if result["alerts_received"] == result["alerts_committed"] == args.alerts else 1


if __name__ == "__main__":
    sys.exit(main())
