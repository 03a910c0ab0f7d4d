"""The container files: what an image build or `docker compose up` needs.

Most tests read the Dockerfile, the lock file and compose.yaml as text and check the properties
operators rely on (compose.yaml against the Compose specification's schema); the image's
HEALTHCHECK command is even executed against the real health server. The image itself is built
and run by `make docker-smoke` (../shared/tools/docker-smoke), which the `docker` test below runs
when NEWSBOT_DOCKER_SMOKE=1: it needs root, a Docker engine it installs, and minutes.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Settings
from bot.health import bound_port, serve

ROOT = Path(__file__).resolve().parents[1]
DOCKER_SMOKE = ROOT.parent / "shared" / "tools" / "docker-smoke"


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


def test_compose_hands_the_token_over_as_a_secret_not_in_the_file() -> None:
    """The token comes from the environment (.env) and reaches the bot as a Docker secret file,
    read through TELEGRAM_BOT_TOKEN_FILE; `docker inspect` shows no token."""
    spec = compose()
    text = (ROOT / "compose.yaml").read_text()
    bot = spec["services"]["newsbot"]
    assert "TELEGRAM_BOT_TOKEN" not in bot["environment"]
    assert bot["environment"]["TELEGRAM_BOT_TOKEN_FILE"] == "/run/secrets/telegram_bot_token"
    assert bot["secrets"] == ["telegram_bot_token"]
    assert spec["secrets"]["telegram_bot_token"] == {"environment": "TELEGRAM_BOT_TOKEN"}
    assert "${TELEGRAM_BOT_TOKEN:?" in text  # a missing token stops `up` with a message
    assert not re.search(r"\d{6,}:[A-Za-z0-9_-]{30,}", text)


def test_compose_proxy_routes_websub_to_the_http_server_and_the_rest_to_the_webhook() -> None:
    """WebSub callbacks are served by NEWSBOT_HTTP (8080) under NEWSBOT_WEBSUB_URL's path, the
    Telegram webhook by its own listener (8443); /healthz and /metrics are not made public."""
    spec = compose()
    proxy = spec["services"]["proxy"]
    (mount,) = proxy["configs"]
    assert mount["target"] == "/etc/caddy/Caddyfile" == proxy["command"][3]
    caddyfile = spec["configs"][mount["source"]]["content"]
    routes = re.findall(r"handle\s*(\S*)\s*\{\s*reverse_proxy\s+(\S+)", caddyfile)
    assert routes == [("/websub/*", "newsbot:8080"), ("", "newsbot:8443")]
    env = spec["services"]["newsbot"]["environment"]
    assert env["NEWSBOT_WEBSUB_URL"] == "${NEWSBOT_WEBSUB_URL:-}"  # unset: polling only
    assert Settings(newsbot_websub_url="").newsbot_websub_url is None


def test_compose_file_follows_the_compose_specification() -> None:
    """Compose v2 reads the Compose specification; its JSON schema (as shipped by
    check-jsonschema) accepts the file. Interpolation is Compose's own and is not run here."""
    tool = Path(sys.executable).with_name("check-jsonschema")
    out = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(ROOT / "compose.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def build_stage() -> list[tuple[str, str]]:
    pairs = dockerfile()
    last_from = max(i for i, (word, _) in enumerate(pairs) if word == "FROM")
    return pairs[:last_from]


def test_dependency_layer_installs_the_lock_file_alone_with_hashes() -> None:
    """The first install of the build copies only requirements.lock (no README, no sources,
    no placeholder package) and installs it hash-checked; the project comes after."""
    stage = build_stage()
    copies = instructions("COPY", stage)
    runs = instructions("RUN", stage)
    assert copies[0].split()[:-1] == ["requirements.lock"]
    install = next(r for r in runs if "pip install" in r)
    assert "--require-hashes" in install and "--no-deps" in install
    assert "-r requirements.lock" in install
    assert "bot/__init__.py" not in " ".join(runs)  # the old placeholder package
    project = next(r for r in runs if "pip install" in r and r != install)
    assert "--no-deps" in project and "--no-build-isolation" in project
    assert "pip uninstall" in project  # the venv leaves without pip/setuptools/wheel


def lock_pins() -> dict[str, str]:
    """name -> version of requirements.lock, checking that each pin carries hashes."""
    pins: dict[str, str] = {}
    text = (ROOT / "requirements.lock").read_text()
    for block in re.split(r"\n(?=[A-Za-z])", text):
        head = block.split("\n", 1)[0]
        match = re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)", head)
        if not match:
            continue
        assert "--hash=sha256:" in block, f"{head}: no hash"
        pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_lock_file_pins_every_dependency_and_the_build_backend() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = lock_pins()
    wanted = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    for requirement in wanted:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("_", "-")
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"


def test_lock_file_is_made_by_make_lock() -> None:
    """The lock file's header names the command that made it; `make lock` runs that command."""
    header = (ROOT / "requirements.lock").read_text().splitlines()[1].strip("# ").strip()
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nlock:", 1)[1].split("\n\n", 1)[0]
    assert "--generate-hashes" in header.split()
    assert "uv pip compile" in header and "uv pip compile" in recipe
    assert set(header.split()) <= set(recipe.replace("$(BIN)/uv", "uv").split())


def test_runtime_stage_drops_the_installers() -> None:
    runs = " ".join(instructions("RUN", final_stage()))
    assert "rm -rf" in runs and "/pip" in runs and "setuptools" in runs
    assert "import $module" in runs  # the build fails if pip/setuptools/wheel still import


@pytest.mark.docker
def test_the_image_builds_and_runs() -> None:
    """The image as an operator builds and runs it: ../shared/tools/docker-smoke (version, check,
    healthy in console mode, non-root, tini as PID 1, stop within 10 s with exit 0)."""
    if os.environ.get("NEWSBOT_DOCKER_SMOKE") != "1":
        pytest.skip("set NEWSBOT_DOCKER_SMOKE=1 to build and run the image (root, minutes)")
    if not DOCKER_SMOKE.is_file() or shutil.which("bash") is None:
        pytest.skip(f"{DOCKER_SMOKE} not found (../shared is absent)")
    out = subprocess.run(
        ["bash", str(DOCKER_SMOKE), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    print(out.stdout, out.stderr)
    assert out.returncode == 0, out.stdout + out.stderr
