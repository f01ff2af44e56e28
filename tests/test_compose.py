"""docker-compose.yml parses and only runs commands the CLI has (no Docker engine runs here)."""

from __future__ import annotations

import yaml

from liveblog.cli import build_parser
from tests.conftest import ROOT


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_service_command_is_a_valid_liveblog_command():
    parser = build_parser()
    services = {name: svc for name, svc in compose()["services"].items() if svc.get("build") or "liveblog" in str(svc.get("image"))}
    assert {"worker", "producer"} <= set(services)
    for name, service in services.items():
        args = parser.parse_args(service["command"])  # raises SystemExit on an unknown command or option
        assert args.command, name
        for source in getattr(args, "sources", []):
            assert (ROOT / source).exists(), f"{name} reads {source}, which the image does not contain"


def test_redis_is_persistent_password_protected_healthchecked_and_not_published():
    redis = compose()["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "--requirepass" in command
    assert "ports" not in redis  # reachable only inside the compose network
    assert "redis-cli" in " ".join(redis["healthcheck"]["test"])


def test_workers_reach_redis_with_the_password_and_wait_for_it():
    for name in ("worker", "producer"):
        service = compose()["services"][name]
        assert service["environment"]["REDIS_URL"].startswith("redis://:${REDIS_PASSWORD")
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"


def test_dockerfile_installs_the_project_and_runs_the_cli():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile and 'ENTRYPOINT ["liveblog"]' in dockerfile
    for package in ("schemas", "producers", "workers", "liveblog", "samples"):
        assert f"COPY {package} ./{package}" in dockerfile
