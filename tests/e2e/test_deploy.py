"""The deployment recipes in scripts/deploy/: the Dockerfile's shape (there is no Docker
engine here, so the image itself is not built) and the systemd unit checked by
``systemd-analyze verify``."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO

DEPLOY = REPO / "scripts" / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
BUILD = "python -m build --wheel --outdir /dist"
INSTALL = "python -m pip install --no-cache-dir -c /tmp/constraints.txt /tmp/dist/*.whl"
ASSETS = ("xterm.mjs", "xterm.css", "addon-fit.mjs", "addon-search.mjs",
          "addon-web-links.mjs")


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


def test_the_dockerfile_builds_a_wheel_and_runs_it_slim_and_unprivileged() -> None:
    text = DOCKERFILE.read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(froms) == 2
    assert all("-slim" in image for image in froms)
    assert BUILD in text
    assert INSTALL in text
    final = text.split("\nFROM ")[-1]
    user = re.findall(r"^USER (\S+)", final, re.M)
    assert user
    assert user[-1] not in ("root", "0")
    assert "SECRET" not in final.split("ENV", 1)[1]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
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
