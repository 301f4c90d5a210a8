"""Set up the peers the ``--peers`` bench compares against, under bench-results/peers/.

- **ttyd 1.7.7**, built from Debian's source tarball (``ttyd_1.7.7.orig.tar.xz`` from the
  Debian archive, checked against its SHA-256) with cmake against bookworm's
  libwebsockets, json-c and libuv (installed with apt-get when missing and run as root).
  Bookworm has no ttyd package; sid's source builds unchanged against bookworm.
- **terminado 0.18.1** from PyPI in a virtualenv of its own (it pulls in tornado), so
  the project's environment stays as it is.

Idempotent: what is already built is reused. Nothing here is committed or shipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

TTYD_VERSION = "1.7.7"
TTYD_URL = "http://deb.debian.org/debian/pool/main/t/ttyd/ttyd_1.7.7.orig.tar.xz"
TTYD_SHA256 = "48eba3f76af237f4c09cceb5ddbe0f845832557819f7e5c60c88285f8822af88"
TTYD_BUILD_DEPS = ("cmake", "gcc", "make", "libwebsockets-dev", "libjson-c-dev",
                   "libuv1-dev", "zlib1g-dev")
TERMINADO = "terminado==0.18.1"


def _run(argv: list[str], cwd: Path | None = None) -> None:
    print("peers:", " ".join(argv), file=sys.stderr, flush=True)
    # Without the bench's PYTHONPATH: the peers' own virtualenv must not see this repo.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=env)


def _missing_debs(names: tuple[str, ...]) -> list[str]:
    missing = []
    for name in names:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name],
                             capture_output=True, text=True)
        if "install ok installed" not in out.stdout:
            missing.append(name)
    return missing


def ttyd(root: Path) -> Path:
    """The path of a built ttyd 1.7.7 binary."""
    binary = root / f"ttyd-{TTYD_VERSION}" / "build" / "ttyd"
    if binary.exists():
        return binary
    missing = _missing_debs(TTYD_BUILD_DEPS)
    if missing:
        if os.geteuid() != 0:
            raise SystemExit(f"peers: ttyd needs these Debian packages: {' '.join(missing)}")
        _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing])
    tarball = root / Path(TTYD_URL).name
    if not tarball.exists():
        root.mkdir(parents=True, exist_ok=True)
        print(f"peers: downloading {TTYD_URL}", file=sys.stderr, flush=True)
        with urllib.request.urlopen(TTYD_URL, timeout=60) as answer:
            data = answer.read()
        digest = hashlib.sha256(data).hexdigest()
        if digest != TTYD_SHA256:
            raise SystemExit(f"peers: {tarball.name} has SHA-256 {digest}, not {TTYD_SHA256}")
        tarball.write_bytes(data)
    source = root / f"ttyd-{TTYD_VERSION}"
    shutil.rmtree(source, ignore_errors=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(root, filter="data")
    build = source / "build"
    build.mkdir()
    _run(["cmake", "-DCMAKE_BUILD_TYPE=Release", ".."], cwd=build)
    _run(["make", f"-j{os.cpu_count() or 2}"], cwd=build)
    return binary


def terminado_python(root: Path) -> Path:
    """A Python with terminado installed (its own virtualenv)."""
    venv = root / "terminado-venv"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(python), "-m", "pip", "install", "-q", TERMINADO])
    return python
