"""The deployment recipes in scripts/deploy/.

There is no Docker engine on the development machine, so the image itself is not built.
What its two stages do is: the wheel is built with the Dockerfile's command from a copy
of the build context (Dockerfile.dockerignore applied), installed into a fresh virtualenv
with the Dockerfile's constraints, and run with the image's ENV and ENTRYPOINT; it must
serve the dashboard with its vendored assets and ``/metrics``. (tests/e2e/test_wheel.py
checks the released wheel, built through the sdist, file by file.) The systemd unit is
checked by ``systemd-analyze verify``.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import aiohttp
import pytest

from relay.auth import mint_token
from relay.handlers.page import VENDOR_FILES
from tests.e2e.conftest import REPO, free_port
from tests.timing import deadline

DEPLOY = REPO / "scripts" / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
BUILD = "python -m build --wheel --outdir /dist"
INSTALL = "python -m pip install --no-cache-dir -c /tmp/constraints.txt /tmp/dist/*.whl"


def docker_context(dest: Path) -> Path:
    """Copy what ``docker build .`` would send: the checkout's files (tracked and new,
    not git-ignored) minus the patterns of Dockerfile.dockerignore."""
    ignore = [line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text()
              .splitlines() if line.strip() and not line.startswith("#")]
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
        capture_output=True,
    ).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel, p + "/*")
               or rel.startswith(p.rstrip("/") + "/") for p in ignore):
            continue
        src = REPO / rel
        if not src.is_file():
            continue  # deleted in the work tree
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return dest


def final_stage() -> str:
    return DOCKERFILE.read_text().split("\nFROM ")[-1]


def image_env() -> dict[str, str]:
    """The ENV of the final stage (``KEY=VALUE`` pairs, with line continuations)."""
    text = final_stage().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", text, re.M):
        env.update(pair.split("=", 1) for pair in line.split())
    return env


def entrypoint() -> list[str]:
    [line] = re.findall(r"^ENTRYPOINT (.+)$", final_stage(), re.M)
    argv: list[str] = json.loads(line)
    return argv


def test_the_dockerfile_builds_a_wheel_and_runs_it_slim_and_unprivileged() -> None:
    text = DOCKERFILE.read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(froms) == 2
    assert all("-slim" in image for image in froms)
    assert BUILD in text
    assert INSTALL in text
    user = re.findall(r"^USER (\S+)", final_stage(), re.M)
    assert user
    assert user[-1] not in ("root", "0")
    assert not any("SECRET" in key or "TOKEN" in key for key in image_env())
    assert entrypoint() == ["agent-sidecar", "relay"]


async def _run(*args: str | Path, cwd: Path, env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        *map(str, args), cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    async with deadline(300):
        out, _ = await proc.communicate()
    assert proc.returncode == 0, f"{args} exited {proc.returncode}:\n{out.decode()[-3000:]}"


@pytest.mark.npm
@pytest.mark.network
@pytest.mark.timeout(600)
async def test_the_wheel_the_dockerfile_installs_runs_as_the_image_would(
    tmp_path: Path, secret: bytes
) -> None:
    context = docker_context(tmp_path / "context")
    assert not (context / "relay/static/vendor").exists()
    dist, venv, home = tmp_path / "dist", tmp_path / "venv", tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("AGENT_")}
    # Stage "wheel": BUILD, with our outdir, in the build context.
    await _run(sys.executable, "-m", "build", "--wheel", "--outdir", dist, cwd=context, env=env)
    [wheel] = dist.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"relay/static/{name}" for name in VENDOR_FILES} <= names
    # Final stage: INSTALL on a fresh Python.
    await _run(sys.executable, "-m", "venv", venv, cwd=home, env=env)
    await _run(venv / "bin/python", "-m", "pip", "install", "--no-cache-dir", "-q", "-c",
               context / "scripts/constraints.txt", wheel, cwd=home, env=env)

    port = free_port()
    image = {**image_env(), "AGENT_RELAY_HOST": "127.0.0.1", "AGENT_RELAY_PORT": str(port)}
    program, *args = entrypoint()
    relay = await asyncio.create_subprocess_exec(
        venv / "bin" / program, *args, cwd=home,
        env={**env, **image, "AGENT_RELAY_JWT_SECRET": secret.decode()},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert relay.stderr is not None
        async with deadline(30):
            while b"listening on" not in (line := await relay.stderr.readline()):
                assert line, "the relay ended before listening"
                assert line.startswith(b"{"), line  # JSON logs, as the image sets them
        base = f"http://127.0.0.1:{port}"
        admin = {"Authorization": f"Bearer {mint_token(secret, sub='ops', role='admin')}"}
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/") as resp:
                assert resp.status == 200
            for name in VENDOR_FILES:
                async with http.get(f"{base}/static/{name}") as resp:
                    assert resp.status == 200, name
            async with http.get(f"{base}/metrics", headers=admin) as resp:
                assert resp.status == 200
                assert "agent_relay_connections" in await resp.text()
        relay.send_signal(signal.SIGTERM)
        async with deadline(20):
            assert await relay.wait() == 0
    finally:
        if relay.returncode is None:
            relay.kill()
            await relay.wait()


@pytest.mark.systemd
def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    binary = shutil.which("agent-sidecar") or str(Path(sys.executable).with_name("agent-sidecar"))
    unit = (DEPLOY / "agent-relay.service").read_text()
    assert "/opt/agent-relay/bin/agent-sidecar relay" in unit
    path = tmp_path / "agent-relay.service"
    path.write_text(unit.replace("/opt/agent-relay/bin/agent-sidecar", binary))
    done = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True,
                          text=True, check=False)
    report = (done.stdout + done.stderr).strip()
    assert done.returncode == 0, report
    assert report == "", report
