"""The operator commands of `liveblog`: health, metrics, web, migrate.

Kept apart from ``liveblog.cli``, which registers them with ``add_commands`` and
dispatches through ``COMMANDS``. Errors are raised as LiveblogError subclasses (and
Redis connection errors), which ``liveblog.cli.main`` turns into exit codes:
``health`` exits 0 healthy, 1 unhealthy, 3 Redis unreachable.
"""

from __future__ import annotations

import argparse
import errno
import json
import signal
import socket
import sys
import threading

from liveblog import connect as connecting
from liveblog import health as health_mod
from schemas.errors import UsageError
from schemas.keys import Keys
from schemas.settings import Settings

EXIT_UNHEALTHY = 1


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register health, metrics, web and migrate on ``liveblog``'s sub-parsers."""
    p = sub.add_parser("health", help="exit 0 healthy, 1 unhealthy (with reasons), 3 Redis unreachable")
    p.add_argument("--max-queue-lag-s", type=float, default=health_mod.DEFAULT_MAX_QUEUE_LAG_S,
                   help="unhealthy when the oldest queued document waited longer (default 60)")
    p.add_argument("--max-queued", type=int, default=None, help="unhealthy when more documents are queued")
    p.add_argument("--local", action="store_true",
                   help="require a worker on this host (a container's own health check)")
    p.add_argument("--max-heartbeat-age-s", type=float, default=None,
                   help="a worker silent longer counts as dead (default: 3 heartbeat intervals, i.e. 3 x"
                        " LIVEBLOG_MAINTENANCE_INTERVAL_S, at least 10 s; a busy worker is allowed the job"
                        " timeout + grace on top)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("metrics", help="Prometheus exporter: reads Redis on each scrape")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9108, help="port (default 9108)")

    p = sub.add_parser("web", help="the live page: the feed as it arrives, over Server-Sent Events")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")

    p = sub.add_parser("migrate", help="move a near-duplicate index stored as sets to strings (after an upgrade)")
    p.add_argument("--dry-run", action="store_true", help="count what would move, change nothing")
    p.add_argument("--json", action="store_true")


def cmd_health(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    conn = connecting.connect(settings)  # RedisUnavailable: exit 3
    report = health_mod.check(
        conn, settings, max_queue_lag_s=args.max_queue_lag_s, max_queued=args.max_queued,
        local_host=socket.gethostname() if args.local else None, max_heartbeat_age_s=args.max_heartbeat_age_s,
    )
    if args.json:
        print(json.dumps({"ok": report.ok, "workers": report.workers, "queued": report.queued,
                          "queue_lag_s": round(report.queue_lag_s, 3), "reasons": report.reasons,
                          "dead_workers": report.dead_workers, "notes": report.notes}))
    else:
        print(health_mod.render(report))
    return 0 if report.ok else EXIT_UNHEALTHY


def cmd_metrics(args: argparse.Namespace) -> int:
    from prometheus_client import start_http_server

    from liveblog import metrics

    _check_port(args.port)
    settings = Settings.from_env()
    conn = connecting.connect(settings)
    try:
        server, thread = start_http_server(args.port, addr=args.host, registry=metrics.registry(conn, settings))
    except OSError as exc:
        raise _listen_error(exc, args.host, args.port) from exc
    print(f"liveblog: metrics on http://{args.host}:{args.port}/metrics", flush=True)
    _wait_for_signal()
    server.shutdown()
    thread.join(5)
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from liveblog.web.app import create_app

    _check_port(args.port)
    settings = Settings.from_env()
    connecting.connect(settings)  # fail now (exit 3), not on the first page view
    listener = _listen(args.host, args.port)  # here, not in uvicorn: it exits 3 when the port is taken
    # (and, given a socket, does not log the address: say it, as `liveblog metrics` does)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"liveblog: live page on http://{host}:{args.port}/", flush=True)

    # uvicorn shuts down gracefully on SIGTERM and SIGINT, puts back the handlers it found and
    # raises the signal again. Under Python's default handlers that kills the process after the
    # clean stop (SIGTERM: status -15, 143 in a shell) or becomes a KeyboardInterrupt that
    # uvicorn.run swallows (SIGINT: exit 0). Under these, the signal ends the command with the
    # project's exit codes: 0 for SIGTERM, as `liveblog worker`; 130 for SIGINT, as `liveblog
    # tail`. A signal that arrives before uvicorn listens ends the command the same way.
    class Stopped(Exception):
        def __init__(self, exit_code: int) -> None:
            super().__init__(exit_code)
            self.exit_code = exit_code

    def on_signal(signum: int, frame: object) -> None:
        raise Stopped(130 if signum == signal.SIGINT else 0)

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        # Open SSE streams never end by themselves: give them a few seconds on shutdown.
        config = uvicorn.Config(create_app(settings), host=args.host, port=args.port, log_config=None,
                                timeout_graceful_shutdown=3, access_log=False)
        uvicorn.Server(config).run(sockets=[listener])
    except Stopped as stop:
        return stop.exit_code
    finally:
        listener.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from workers.dedup import migrate as migrating

    settings = Settings.from_env()
    conn = connecting.connect(settings)
    done = migrating.migrate(conn, Keys(settings.key_prefix), dry_run=args.dry_run)
    if args.json:
        print(json.dumps({**done.as_dict(), "dry_run": args.dry_run}))
    else:
        verb = "would move" if args.dry_run else "moved"
        print(f"liveblog: {verb} {done.moved:,} near-duplicate sets to strings ({done.merged:,} merged, "
              f"{done.refs:,} refs) of {done.scanned:,} set buckets")
    if done.skipped:
        print(f"liveblog: left {done.skipped:,} sets in place: expected their {Keys(settings.key_prefix).near('...')} key "
              "to be absent or a string of JSON-quoted refs, found another type or text", file=sys.stderr)
        return 1
    return 0


def _check_port(port: int) -> None:
    if not 0 < port < 65536:
        raise UsageError(f"--port: expected 1-65535, found {port}")


def _listen(host: str, port: int) -> socket.socket:
    """A bound socket for uvicorn, made as uvicorn makes its own (IPv6 when the host has a colon)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # uvicorn's backlog: connections wait for the app from now on
    except OSError as exc:
        sock.close()
        raise _listen_error(exc, host, port) from exc
    return sock


def _listen_error(exc: OSError, host: str, port: int) -> UsageError:
    """An address that cannot be listened on is the operator's to change (exit 2)."""
    if exc.errno == errno.EADDRINUSE:
        return UsageError(f"port {port} on {host} is already in use: expected a free port, found another"
                          " process listening there (stop it, or pass another --port)")
    return UsageError(f"cannot listen on {host} port {port}: expected an address of this machine and a port"
                      f" this user may bind, found {exc.strerror or exc}")


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


COMMANDS = {"health": cmd_health, "metrics": cmd_metrics, "web": cmd_web, "migrate": cmd_migrate}
