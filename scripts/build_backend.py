"""The project's PEP 517 build backend: setuptools, plus the dashboard's xterm.js files.

The browser files (xterm.js and its addons) are not committed: ``scripts/fetch-assets``
copies them from npm into ``relay/static/vendor/``. A wheel or sdist built without them
serves a dashboard that answers 503, so building one runs ``scripts/fetch-assets`` first
(npm and the npm registry needed) and refuses to build when the files are still missing.
A wheel built from the sdist finds them already there (the sdist carries them).
Editable installs (``scripts/setup``) are left alone: scripts/setup fetches the files.

pyproject.toml points here with ``backend-path = ["scripts"]``; everything else is
setuptools.build_meta unchanged.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403  (the rest of the backend, unchanged)

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "relay" / "static" / "vendor"
#: Files that must be in a wheel; relay/handlers/page.py VENDOR_FILES has the full list
#: and the wheel test checks every one of them is served.
REQUIRED = ("xterm.mjs", "xterm.css", "addon-fit.mjs")


def _vendor_files() -> None:
    script = ROOT / "scripts" / "fetch-assets"
    if script.exists():
        subprocess.run([str(script)], check=True)
    missing = [name for name in REQUIRED if not (VENDOR / name).is_file()]
    if missing:
        raise RuntimeError(
            f"relay/static/vendor lacks {', '.join(missing)}: run scripts/fetch-assets "
            "(needs npm) before building"
        )


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, str | list[str]] | None = None,
    metadata_directory: str | None = None,
) -> str:
    _vendor_files()
    return build_meta.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_sdist(
    sdist_directory: str, config_settings: dict[str, str | list[str]] | None = None
) -> str:
    _vendor_files()
    return build_meta.build_sdist(sdist_directory, config_settings)
