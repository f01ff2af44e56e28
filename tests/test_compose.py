"""docker-compose.yml parses and only runs commands the CLI has (no Docker engine runs here)."""

from __future__ import annotations

import argparse
import tomllib

import yaml

from liveblog.cli import build_parser
from tests.conftest import ROOT

LIVEBLOG_SERVICES = {"worker", "producer", "poller", "web", "metrics"}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def liveblog_services() -> dict[str, dict]:
    return {name: svc for name, svc in compose()["services"].items()
            if svc.get("build") or "liveblog" in str(svc.get("image"))}


def parser() -> argparse.ArgumentParser:
    """The CLI's parser, with the producer and ops commands even before cli.py registers them."""
    from liveblog import ops_cli, producer_cli

    built = build_parser()
    sub = next(a for a in built._actions if isinstance(a, argparse._SubParsersAction))
    if "poll" not in sub.choices:
        producer_cli.add_commands(sub)
    if "health" not in sub.choices:
        ops_cli.add_commands(sub)
    return built


def test_every_service_command_is_a_valid_liveblog_command():
    cli = parser()
    services = liveblog_services()
    assert LIVEBLOG_SERVICES <= set(services)
    for name, service in services.items():
        args = cli.parse_args(service["command"])  # raises SystemExit on an unknown command or option
        assert args.command, name
        for source in getattr(args, "sources", []):
            assert (ROOT / source).exists(), f"{name} reads {source}, which the image does not contain"


def test_worker_health_check_is_a_valid_liveblog_health_command():
    check = compose()["services"]["worker"]["healthcheck"]
    assert check["test"][:2] == ["CMD", "liveblog"]
    args = parser().parse_args(check["test"][2:])
    assert args.command == "health" and args.local is True


def test_web_and_metrics_listen_on_the_published_port_and_publish_on_loopback_only():
    cli = parser()
    services = compose()["services"]
    for name, command in (("web", "web"), ("metrics", "metrics")):
        args = cli.parse_args(services[name]["command"])
        assert args.command == command and args.host == "0.0.0.0"  # reachable from other containers
        assert services[name]["ports"] == [f"127.0.0.1:{args.port}:{args.port}"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_prometheus_scrapes_the_exporter_service_and_port():
    config = yaml.safe_load(compose()["configs"]["prometheus"]["content"])
    metrics_port = parser().parse_args(compose()["services"]["metrics"]["command"]).port
    targets = config["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"metrics:{metrics_port}"]


def test_redis_is_persistent_password_protected_healthchecked_and_not_published():
    redis = compose()["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "--requirepass" in command
    assert "ports" not in redis  # reachable only inside the compose network
    assert "redis-cli" in " ".join(redis["healthcheck"]["test"])


def test_every_client_reaches_redis_with_the_password_and_waits_for_it():
    services = compose()["services"]
    for name in LIVEBLOG_SERVICES:
        service = services[name]
        assert service["environment"]["REDIS_URL"].startswith("redis://:${REDIS_PASSWORD"), name
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name
    dashboard = services["rq-dashboard"]
    assert dashboard["environment"]["RQ_DASHBOARD_REDIS_URL"].startswith("redis://:${REDIS_PASSWORD")
    assert dashboard["depends_on"]["redis"]["condition"] == "service_healthy"
    assert all(port.startswith("127.0.0.1:") for port in dashboard["ports"])  # it has no login


def test_dockerfile_installs_the_project_and_runs_the_cli():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile and 'ENTRYPOINT ["liveblog"]' in dockerfile
    for package in ("schemas", "producers", "workers", "liveblog", "samples"):
        assert f"COPY {package} ./{package}" in dockerfile


def test_the_image_gets_the_web_page_and_the_ops_dependencies():
    """``pip install .`` in the Dockerfile installs what pyproject.toml declares, nothing more."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = {dep.split(">")[0].split("=")[0].split("[")[0].strip().lower() for dep in project["project"]["dependencies"]}
    assert {"prometheus-client", "starlette", "uvicorn"} <= names, "add the ops dependencies to pyproject.toml"
    package_data = project["tool"]["setuptools"]["package-data"].get("liveblog", [])
    assert any(glob.startswith("web/static") for glob in package_data), \
        "pyproject.toml must ship liveblog/web/static/* as package data (the page, its script and style)"
