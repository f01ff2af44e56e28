"""Security: TLS with ACL users of least privilege end to end, and secrets kept out of logs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import SAMPLES, free_port, run_cli

pytestmark = [pytest.mark.redis, pytest.mark.reliability]

STORM = str(SAMPLES / "storm-live-2024-10-12.txt")
# The ACLs docs/security.md recommends, verbatim (see that file for the reasoning).
ACL = {
    "producer": "on >producer-secret-7f3a ~liveblog:accepted:* ~liveblog:stats ~rq:* &rq:* "
                "+@read +@write +@transaction +@connection +@scripting -@dangerous",
    "worker": "on >worker-secret-91bc ~liveblog:* ~rq:* &rq:* &liveblog:notify* "
              "+@read +@write +@transaction +@connection +@scripting +@stream +@pubsub -@dangerous +info",
    "consumer": "on >consumer-secret-22de ~liveblog:events ~liveblog:{*}:events ~liveblog:topic:* "
                "+@read +@stream +@connection -@dangerous",
}


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed to make the test certificates")
    d = tmp_path_factory.mktemp("tls")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=liveblog-test-ca", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    port = free_port()
    users = "\n".join(f"user {name} {rules}" for name, rules in ACL.items())
    (d / "redis.conf").write_text(
        f"port 0\ntls-port {port}\nbind 127.0.0.1\ntls-cert-file {d}/server.crt\ntls-key-file {d}/server.key\n"
        f"tls-ca-cert-file {d}/ca.crt\ntls-auth-clients no\nsave \"\"\nappendonly no\ndir {d}\n"
        f"user default off\nuser admin on >admin-secret-0000 ~* &* +@all\n{users}\n"
    )
    proc = subprocess.Popen(["redis-server", str(d / "redis.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def url(user: str, secret: str) -> str:
        return f"rediss://{user}:{secret}@127.0.0.1:{port}/0?ssl_ca_certs={d}/ca.crt"
    admin = redis.Redis.from_url(url("admin", "admin-secret-0000"))
    for _ in range(200):
        try:
            admin.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield {name: url(name, ACL[name].split(">")[1].split()[0]) for name in ACL} | {"admin": admin}
    proc.terminate()
    proc.wait(10)


def test_tls_with_least_privilege_users_runs_the_whole_pipeline(tls_redis):
    produced = run_cli("produce", STORM, "--tz", "Europe/London", redis_url=tls_redis["producer"])
    assert produced.returncode == 0, produced.stderr.decode()
    worked = run_cli("worker", "--burst", redis_url=tls_redis["worker"])
    assert worked.returncode == 0, worked.stderr.decode()[-3000:]
    tail = run_cli("tail", "--group", "desk", redis_url=tls_redis["consumer"])
    assert tail.returncode == 0, tail.stderr.decode()
    assert len([json.loads(line) for line in tail.stdout.decode().splitlines()]) == 22


def test_a_consumer_cannot_touch_queues_or_dedup_state(tls_redis):
    consumer = redis.Redis.from_url(tls_redis["consumer"])
    with pytest.raises(redis.exceptions.NoPermissionError):
        consumer.lpush("rq:queue:liveblog-ingest", "x")
    with pytest.raises(redis.exceptions.NoPermissionError):
        consumer.hset("liveblog:stats", "posts_created", 0)


def test_secrets_never_appear_in_logs_or_output(tls_redis):
    outputs = [
        run_cli("--log-format", "json", "--log-level", "DEBUG", "produce", STORM, redis_url=tls_redis["producer"]),
        run_cli("--log-format", "json", "--log-level", "DEBUG", "worker", "--burst", redis_url=tls_redis["worker"]),
        run_cli("stats", redis_url=tls_redis["worker"]),
        run_cli("stats", redis_url=re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{free_port()}", tls_redis["worker"])),  # unreachable
    ]
    text = b"".join(o.stdout + o.stderr for o in outputs).decode()
    assert "cannot reach Redis at rediss://***@127.0.0.1" in text
    for secret in ("producer-secret-7f3a", "worker-secret-91bc", "consumer-secret-22de"):
        assert secret not in text
