"""A loopback webhook receiver for tests and the benchmark: verifies Standard Webhooks
signatures, can fail the first N deliveries, and keeps each alert once by webhook-id."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    def __init__(self, secret: str, *, fail_first: int = 0, status_on_failure: int = 500,
                 hold: threading.Event | None = None) -> None:
        self.secret = secret
        self.hold = hold  # a slow receiver: every request waits for it before it is answered
        self.fail_first = fail_first
        self.status_on_failure = status_on_failure
        self.requests: list[dict] = []  # every POST: headers, verified or not
        self.received: dict[str, tuple[float, dict]] = {}  # webhook-id -> (time.time() received, body)
        self.lock = threading.Lock()
        self.arrived = threading.Event()  # set when the first request comes in (before any hold)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(60)
                now = time.time()
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    Webhook(receiver.secret).verify(body, headers)
                    verified = True
                except WebhookVerificationError:
                    verified = False
                with receiver.lock:
                    receiver.requests.append({"headers": headers, "verified": verified})
                    failing = len(receiver.requests) <= receiver.fail_first
                    if verified and not failing:
                        receiver.received.setdefault(headers["webhook-id"], (now, json.loads(body)))
                self.send_response(401 if not verified else receiver.status_on_failure if failing else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler
