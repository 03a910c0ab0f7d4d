"""The container files, checked without Docker: what an image build or `docker compose up` needs.

No Docker engine runs in CI, so these tests read the Dockerfile and compose.yaml as text and
check the properties operators rely on; the image's HEALTHCHECK command is even executed against
the real health server.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.health import bound_port, serve

ROOT = Path(__file__).resolve().parents[1]


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    current = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        current += " " + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            logical.append(current.strip())
            current = ""
    pairs = []
    for entry in logical:
        word, _, rest = entry.partition(" ")
        pairs.append((word.upper(), rest.strip()))
    return pairs


def final_stage() -> list[tuple[str, str]]:
    pairs = dockerfile()
    last_from = max(i for i, (word, _) in enumerate(pairs) if word == "FROM")
    return pairs[last_from:]


def instructions(word: str, stage: list[tuple[str, str]] | None = None) -> list[str]:
    return [rest for w, rest in (stage if stage is not None else dockerfile()) if w == word]


def env_values(stage: list[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for rest in instructions("ENV", stage):
        for key, value in re.findall(r"(\w+)=(\S+)", rest):
            values[key] = value
    return values


def test_image_is_multi_stage_on_a_slim_python_3_11_or_3_12() -> None:
    args = " ".join(instructions("ARG"))
    froms = instructions("FROM")
    assert len(froms) >= 2
    base = re.search(r"PYTHON_IMAGE=(\S+)", args)
    assert base and re.fullmatch(r"python:3\.1[12]-slim(-\w+)?", base.group(1))
    assert instructions("COPY", final_stage())[0].startswith("--from=build ")


def test_final_stage_runs_as_a_non_root_user() -> None:
    users = instructions("USER", final_stage())
    assert users, "no USER in the final stage: the bot would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")


def test_entrypoint_is_exec_form_newsbot_with_run_as_default_command() -> None:
    stage = final_stage()
    entrypoint = json.loads(instructions("ENTRYPOINT", stage)[-1])  # exec form is a JSON array
    assert entrypoint[-1] == "newsbot"
    assert json.loads(instructions("CMD", stage)[-1]) == ["run"]
    assert instructions("STOPSIGNAL", stage) in ([], ["SIGTERM"])


def test_environment_points_at_the_volumes_and_listens_for_the_healthcheck() -> None:
    stage = final_stage()
    env = env_values(stage)
    assert env["NEWSBOT_HTTP"] == "0.0.0.0:8080"
    assert env["DATABASE_URL"] == "sqlite:////data/newsbot.db"
    assert env["NEWSBOT_WATCHLISTS"] == "/app/watchlists"
    volumes = json.loads(instructions("VOLUME", stage)[-1])
    assert set(volumes) == {"/data", "/app/watchlists"}


def test_every_copied_source_exists_and_is_not_dockerignored() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for rest in instructions("COPY"):
        parts = [p for p in rest.split() if not p.startswith("--")]
        for source in parts[:-1]:
            if "--from=" in rest:
                continue
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert source.rstrip("/") not in ignored, f"COPY {source}: excluded by .dockerignore"


def test_secrets_and_local_state_stay_out_of_the_build_context() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".env", ".venv/", ".git/", "data/", "*.db"):
        assert entry in ignored


def healthcheck_command() -> list[str]:
    rest = instructions("HEALTHCHECK", final_stage())[-1]
    options, _, command = rest.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    return json.loads(command)


@pytest.fixture
async def health_port() -> AsyncIterator[tuple[int, dict[str, bool]]]:
    state = {"ok": True}

    async def check() -> tuple[bool, dict[str, Any]]:
        return state["ok"], {}

    server = await serve("127.0.0.1", 0, check)
    yield bound_port(server), state
    server.close()
    await server.wait_closed()


async def run_healthcheck(port: int) -> int:
    command = healthcheck_command()
    assert command[0] == "python" and command[1] == "-c"
    code = command[2]
    assert "http://127.0.0.1:8080/healthz" in code
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code.replace(":8080/", f":{port}/"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(process.wait(), 20)


async def test_healthcheck_command_passes_on_200_and_fails_on_503(
    health_port: tuple[int, dict[str, bool]],
) -> None:
    port, state = health_port
    assert await run_healthcheck(port) == 0
    state["ok"] = False
    assert await run_healthcheck(port) != 0


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_runs_postgres_and_two_webhook_replicas() -> None:
    services = compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    bot = services["newsbot"]
    assert bot["deploy"]["replicas"] == 2
    env = bot["environment"]
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    # several replicas must not long-poll getUpdates: Telegram must push by webhook
    assert "NEWSBOT_WEBHOOK_URL" in env
    assert env["NEWSBOT_HTTP"] == "0.0.0.0:8080"
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_replicas_do_not_fight_over_host_ports_and_stop_gracefully() -> None:
    bot = compose()["services"]["newsbot"]
    assert "ports" not in bot, "two replicas cannot publish the same host port"
    grace = re.fullmatch(r"(\d+)s", bot["stop_grace_period"])
    assert grace and int(grace.group(1)) > 10  # newsbot's own bound is 10 s
    mounts = [m.split(":") for m in bot["volumes"]]
    assert ["./watchlists", "/app/watchlists", "ro"] in mounts  # a folder, so reloads see saves


def test_compose_token_comes_from_the_environment_not_the_file() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert re.search(r"TELEGRAM_BOT_TOKEN: \$\{TELEGRAM_BOT_TOKEN", text)
    assert not re.search(r"\d{6,}:[A-Za-z0-9_-]{30,}", text)
