"""The released package: a wheel built from a copy of the tracked files, installed in a
fresh virtualenv with no repository around, serves the whole dashboard.

Needs npm and the package indexes (the build fetches the xterm.js files and setuptools;
the venv installs the runtime dependencies at the versions of scripts/constraints.txt).
``AGENT_SIDECAR_TEST_OFFLINE=1`` skips it on a machine without them.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from relay.handlers.page import OWN_FILES, VENDOR_FILES
from tests.e2e.conftest import REPO
from tests.timing import deadline

pytestmark = [pytest.mark.npm, pytest.mark.network, pytest.mark.timeout(600)]

SECRET = "wheel-test-secret-long-enough-for-hs256-0123456789"


async def _run(*args: str | Path, cwd: Path, env: dict[str, str]) -> str:
    proc = await asyncio.create_subprocess_exec(
        *map(str, args), cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    async with deadline(300):
        out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, f"{args} exited {proc.returncode}:\n{text[-3000:]}"
    return text


def _tracked_copy(dest: Path) -> None:
    """The files git tracks, as they are in the work tree: what a fresh clone has."""
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True
    ).stdout.decode().split("\0")
    for name in filter(None, names):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(src.read_bytes())
            (dest / name).chmod(src.stat().st_mode)


async def test_a_wheel_installed_in_a_fresh_venv_serves_the_dashboard(tmp_path: Path) -> None:
    source, dist, venv, elsewhere = (tmp_path / n for n in ("src", "dist", "venv", "elsewhere"))
    elsewhere.mkdir()
    _tracked_copy(source)
    assert not (source / "relay/static/vendor").exists()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("AGENT_")}
    env["PIP_CONSTRAINT"] = str(REPO / "scripts/constraints.txt")

    await _run(sys.executable, "-m", "build", "--outdir", dist, source, cwd=source, env=env)
    (wheel,) = dist.glob("*.whl")
    await _run(sys.executable, "-m", "venv", venv, cwd=elsewhere, env=env)
    await _run(venv / "bin/python", "-m", "pip", "install", "-q", wheel, cwd=elsewhere, env=env)
    where = await _run(venv / "bin/python", "-c", "import relay; print(relay.__file__)",
                       cwd=elsewhere, env=env)
    assert where.strip().startswith(str(venv)), where

    relay = await asyncio.create_subprocess_exec(
        venv / "bin/agent-sidecar", "relay", "--port", "0", cwd=elsewhere,
        env={**env, "AGENT_RELAY_JWT_SECRET": SECRET}, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert relay.stderr is not None
        lines: list[str] = []
        match = None
        async with deadline(30):
            while match is None:
                line = (await relay.stderr.readline()).decode()
                assert line, f"the relay exited: {lines}"
                lines.append(line)
                match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert not any("missing" in seen for seen in lines), lines
        async with aiohttp.ClientSession() as session:
            for path in ["/", *(f"/static/{name}" for name in {**OWN_FILES, **VENDOR_FILES})]:
                async with session.get(match[1] + path) as resp:
                    assert resp.status == 200, (path, resp.status, await resp.text())
                    assert await resp.read(), path
    finally:
        relay.terminate()
        await relay.wait()
