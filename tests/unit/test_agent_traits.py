"""The steering facts per agent kind, and the dashboard's copy of the stop keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent_sidecar.agents import AGENT_KINDS, agent_traits

TERMINAL_JS = Path(__file__).resolve().parents[2] / "relay" / "static" / "js" / "terminal.mjs"


def dashboard_stop_keys() -> dict[str, tuple[str, str]]:
    source = TERMINAL_JS.read_text()
    block = re.search(r"export const STOP_KEYS = \{(.*?)\n\};", source, re.S)
    assert block is not None
    keys = {}
    for kind, raw, name in re.findall(
        r'(\w+): \{ keys: "((?:[^"\\]|\\.)*)", name: "([^"]*)" \}', block.group(1)
    ):
        keys[kind] = (raw.encode().decode("unicode_escape"), name)
    return keys


def test_the_dashboard_stops_each_agent_with_the_sidecars_stop_key() -> None:
    expected = {
        kind: (traits.stop_key, traits.stop_key_name)
        for kind in AGENT_KINDS
        if (traits := agent_traits(kind)).stop_key is not None
    }
    assert dashboard_stop_keys() == expected


@pytest.mark.parametrize("kind", ["claude", "codex", "gemini"])
def test_the_tui_agents_stop_with_esc_and_wait_out_their_paste_windows(kind: str) -> None:
    traits = agent_traits(kind)  # type: ignore[arg-type]
    assert traits.stop_key == "\x1b"
    assert traits.submit_gap > 0.12 if kind == "codex" else traits.submit_gap > 0.03


def test_shells_and_unknown_commands_stop_with_sigint() -> None:
    assert agent_traits("shell").stop_key is None
    assert agent_traits("other").stop_key is None
