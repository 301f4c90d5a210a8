"""Small programs the tests run under a PTY, and how to start them."""

from __future__ import annotations

import sys
from pathlib import Path

#: The fake TUI agent (raw mode, bracketed paste, Esc stops a turn): see its docstring.
AGENT_TUI = str(Path(__file__).resolve().parent / "agent_tui.py")

#: Prints ``armed``, then on SIGTERM prints ``terminated-cleanly`` and exits 9.
HANDLES_TERM = (
    "import signal, sys, time\n"
    "def bye(*_):\n"
    "    print('terminated-cleanly', flush=True); sys.exit(9)\n"
    "signal.signal(signal.SIGTERM, bye)\n"
    "print('armed', flush=True)\n"
    "while True: time.sleep(1)\n"
)


def agent_tui_named(directory: Path, name: str) -> str:
    """The fake TUI started under an agent's name (``claude``, ``codex``, ...), so that
    the sidecar treats it as that agent."""
    path = directory / name
    path.write_text(f"#!{sys.executable}\nimport runpy\nrunpy.run_path({AGENT_TUI!r}, "
                    "run_name='__main__')\n")
    path.chmod(0o755)
    return str(path)
