"""docker-compose.yml parses and only runs commands the CLI has (no Docker engine runs here)."""

from __future__ import annotations

import argparse
import re
import tomllib

import pytest
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


@pytest.mark.reliability
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


# Compose's interpolation (https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/),
# the subset this file may use: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}.
INTERPOLATION = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


class MissingVariable(Exception):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    def substitute(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        unset = value is None or (value == "" and op is not None and op.startswith(":"))
        if not unset:
            return value
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            raise MissingVariable(f"required variable {name} is missing a value: {arg}")
        return ""

    return INTERPOLATION.sub(substitute, text)


def interpolated(env: dict[str, str]) -> dict:
    def walk(node):
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return interpolate(node, env) if isinstance(node, str) else node

    return walk(compose())


def test_the_redis_password_has_no_default_and_every_use_says_how_to_set_it():
    text = (ROOT / "docker-compose.yml").read_text()
    uses = [m for m in INTERPOLATION.finditer(text) if m["name"] == "REDIS_PASSWORD"]
    assert len(uses) >= 4  # both client URLs, the server's --requirepass, the health check's environment
    for use in uses:
        assert use["op"] == ":?", f"{use[0]!r}: REDIS_PASSWORD must be required (${{REDIS_PASSWORD:?message}})"
        assert "REDIS_PASSWORD" in use["arg"] and "docs/operations.md" in use["arg"], use[0]
    assert "change-me" not in text
    assert not re.search(r"REDIS_PASSWORD:?-", text), "no default password anywhere"
    check = " ".join(compose()["services"]["redis"]["healthcheck"]["test"])
    assert "redis-cli -a" not in check and "REDISCLI_AUTH" in check  # from the environment, not argv


@pytest.mark.parametrize("env", [{}, {"REDIS_PASSWORD": ""}], ids=["unset", "empty"])
def test_compose_refuses_to_start_without_a_password(env):
    with pytest.raises(MissingVariable, match="REDIS_PASSWORD is missing a value: set REDIS_PASSWORD in the "
                                              "environment or in .env, see docs/operations.md"):
        interpolated(env)


def test_with_a_password_every_client_and_the_server_agree_on_it():
    secret = "0f3a9c"
    services = interpolated({"REDIS_PASSWORD": secret})["services"]
    for name in LIVEBLOG_SERVICES:
        assert services[name]["environment"]["REDIS_URL"] == f"redis://:{secret}@redis:6379/0", name
    assert services["rq-dashboard"]["environment"]["RQ_DASHBOARD_REDIS_URL"] == f"redis://:{secret}@redis:6379/0"
    redis = services["redis"]
    command = redis["command"]
    assert command[command.index("--requirepass") + 1] == secret
    assert redis["environment"]["REDIS_PASSWORD"] == secret
    assert redis["healthcheck"]["test"][1] == 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli ping | grep -q PONG'


def test_operations_doc_shows_how_to_set_the_password():
    doc = (ROOT / "docs" / "operations.md").read_text()
    assert "REDIS_PASSWORD=" in doc and ".env" in doc
    assert "change-me" not in doc


def doc_commands(path) -> list[list[str]]:
    """Every `liveblog ...` command line of a doc's ```sh blocks (continuations joined, `&` and comments cut)."""
    import shlex

    commands = []
    for block in re.findall(r"```sh\n(.*?)```", path.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and words[-1] == "&":
                words.pop()
            if words and words[0].endswith("bin/liveblog"):
                commands.append(words[1:])
    return commands


def test_every_liveblog_command_of_the_operations_walkthrough_exists():
    commands = doc_commands(ROOT / "docs" / "operations.md")
    cli = parser()
    names = set()
    for words in commands:
        args = cli.parse_args(words)  # SystemExit on an unknown command or flag
        names.add(args.command)
        if args.command == "poll" and args.urls:
            assert args.allow_private and args.every == "30s", words  # loopback needs the allowance
            served = args.urls[0].rsplit("/", 1)[-1]
            assert (ROOT / "samples" / served).exists(), f"the walkthrough polls {served}, not in samples/"
    assert {"worker", "web", "poll", "stats", "health"} <= names
