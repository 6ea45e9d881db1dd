"""docker-compose.yml and the Dockerfile, checked on paper (no Docker engine here) and against the real programs.

The structure is parsed with PyYAML; the environment the compose file gives the API must build valid settings;
the Dockerfile's CMD must parse as a ``citeqa`` command line; and the chroma health check, a bash one-liner since
the chromadb/chroma image has no curl, wget or python, is run against a real ``chroma run``.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from service.cli import main as cli
from service.settings import Settings
from tests.conftest import ROOT
from tests.servers import ChromaServer, free_port

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
DEFAULT = re.compile(r"^\$\{(?P<name>\w+)(?::-(?P<default>[^}]*))?\}$")


def dockerfile(instruction: str) -> list[str]:
    """The arguments of each ``instruction`` line of the Dockerfile (continuation lines joined)."""
    text = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith(instruction + " ")]


def resolved(value: object) -> str:
    """A compose value with ``${VAR:-default}`` taken at its default (what an empty shell gives)."""
    match = DEFAULT.match(str(value))
    return (match.group("default") or "") if match else str(value)


def published(port: str) -> tuple[str, str]:
    *host, container = port.rsplit(":", 1)
    return ":".join(host), container


def test_services_images_and_volumes() -> None:
    assert set(COMPOSE["services"]) == {"chroma", "api"}
    chroma, api = COMPOSE["services"]["chroma"], COMPOSE["services"]["api"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    version = re.search(r'"chromadb==([\d.]+)"', pyproject).group(1)
    assert chroma["image"] == f"chromadb/chroma:{version}"  # the server speaks the client's version
    assert api["build"] == "." and (ROOT / "Dockerfile").is_file() and "image" not in api
    volume, mount = chroma["volumes"][0].split(":")
    assert volume in COMPOSE["volumes"] and chroma["command"][chroma["command"].index("--path") + 1] == mount
    assert api["depends_on"] == {"chroma": {"condition": "service_healthy"}}
    assert "healthcheck" in chroma and "llm" not in COMPOSE["services"]  # the LLM service stays commented


def test_ports_line_up() -> None:
    chroma, api = COMPOSE["services"]["chroma"], COMPOSE["services"]["api"]
    chroma_port = chroma["command"][chroma["command"].index("--port") + 1]
    assert all(published(p)[1] == chroma_port for p in chroma["ports"])
    env = {key: resolved(value) for key, value in api["environment"].items()}
    assert env["CITEQA_CHROMA_URL"] == f"http://chroma:{chroma_port}"
    assert all(published(p)[1] == env["CITEQA_PORT"] for p in api["ports"])
    assert all(p.startswith("127.0.0.1:") for s in (chroma, api) for p in s["ports"])  # not on every interface
    host_ports = published(api["ports"][0])[0].split(":", 1)[1]
    assert re.fullmatch(r"\d+-\d+", host_ports), "a range, so --scale api=N gives each replica a port"
    assert dockerfile("EXPOSE") == [env["CITEQA_PORT"]]


def test_api_environment_names_real_settings_and_builds_them() -> None:
    environment = COMPOSE["services"]["api"]["environment"]
    fields = {f"CITEQA_{name.upper()}" for name in Settings.model_fields}
    assert set(environment) <= fields, set(environment) - fields
    dockerfile_env = " ".join(dockerfile("ENV"))
    assert set(re.findall(r"\b(CITEQA_\w+)=", dockerfile_env)) <= fields
    values = {key.removeprefix("CITEQA_").lower(): resolved(value) for key, value in environment.items()}
    settings = Settings(_env_file=None, **values)  # type: ignore[arg-type]
    assert settings.chroma_url == "http://chroma:8000" and settings.api_keys is None and not settings.cors_origins
    assert settings.host == "0.0.0.0" and settings.rate_limit_per_minute == 0


def test_dockerfile_copies_what_exists_and_cmd_is_a_citeqa_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the image's WORKDIR holds the repository's files
    for args in dockerfile("COPY"):
        *sources, _ = args.split()
        assert all((ROOT / source).exists() for source in sources), sources
    cmd = json.loads(dockerfile("CMD")[-1])
    assert cmd[:2] == ["citeqa", "serve"]
    context = cli.commands["serve"].make_context("serve", cmd[2:])  # parses the options as the CLI would
    assert context.params["port"] == 8000 and context.params["host"] == "0.0.0.0"
    assert [str(p) for p in context.params["ingest_paths"]] == ["seeds"]
    torch = re.search(r'"torch==([\d.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert f"torch=={torch}" in " ".join(dockerfile("RUN"))
    assert "8000/healthz" in " ".join(dockerfile("HEALTHCHECK"))


def health_check_command(port: int) -> list[str]:
    test = COMPOSE["services"]["chroma"]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "/bin/bash", "the chroma image has bash, not curl, wget or python"
    script = test[3].replace("$$", "$").replace("/8000", f"/{port}")  # compose turns $$ into $
    return [test[1], test[2], script]


@pytest.mark.slow  # loads the model or starts a server
def test_chroma_health_check_runs_against_a_real_server(tmp_path: Path) -> None:
    command = COMPOSE["services"]["chroma"]["command"]
    with ChromaServer(tmp_path / "chroma") as server:
        assert command[:1] == ["run"] and {"--path", "--host", "--port"} <= set(command)  # what ChromaServer runs
        ok = subprocess.run(health_check_command(server.port), capture_output=True, timeout=30)
        assert ok.returncode == 0, ok.stderr
    down = subprocess.run(health_check_command(free_port()), capture_output=True, timeout=30)
    assert down.returncode != 0


@pytest.mark.parametrize("status_line, healthy", [("HTTP/1.1 200 OK", True), ("HTTP/1.1 503 Unavailable", False)])
def test_chroma_health_check_reads_the_status(status_line: str, healthy: bool) -> None:
    script = health_check_command(1)[2]
    fake = script.replace("exec 3<>/dev/tcp/127.0.0.1/1", "exec 3< <(printf " + shlex.quote(status_line + "\r\n")
                          + ")").replace(">&3 &&", ">/dev/null &&")
    result = subprocess.run(["bash", "-c", fake], capture_output=True, timeout=30)
    assert (result.returncode == 0) is healthy, result.stderr
