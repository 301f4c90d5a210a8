"""``python -m agent_sidecar``: the same as the ``agent-sidecar`` command."""

from __future__ import annotations

from .cli import entry

entry()
