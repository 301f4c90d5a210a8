"""The dashboard's pure JS helpers, run in the browser against the served modules."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from playwright.sync_api import Page

from relay.protocol import encode_binary_output

from .harness import NewPage, Relay

pytestmark = pytest.mark.browser


@pytest.fixture
def page(relay: Relay, new_page: NewPage) -> Page:
    p = new_page()
    p.goto(relay.url + "/")  # no token: the page just asks for one
    return p


def run(page: Page, body: str, arg: object = None) -> Any:
    """Evaluate ``body`` (statements using ``output``, ``connection`` and ``arg``) in the
    page. The page's CSP (Trusted Types) refuses ``new Function(string)``, so the body
    is spliced into the expression that Playwright evaluates."""
    return page.evaluate(
        "async (arg) => {"
        " const output = await import('/static/js/output.mjs');"
        " const connection = await import('/static/js/connection.mjs');"
        f" {body} }}",
        arg,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"one\r\ntwo\r\n", "two"),
        (b"\x1b[1;32mok\x1b[0m 3 passed\r\n\r\n  \r\n", "ok 3 passed"),
        (b"progress 10%\rprogress 55%\rprogress 99%", "progress 99%"),
        (b"\x1b]0;title\x07prompt> ", "prompt>"),
        (b"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", "caf\u00e9 \u65e5\u672c"),
        (b"", ""),
        (b"Enter\x1b[1Cto\x1b[1Cconfirm\x1b[1C\xc2\xb7\x1b[1CEsc\x1b[Cto\x1b[3Ccancel",
         "Enter to confirm \u00b7 Esc to   cancel"),
    ],
)
def test_preview_line(page: Page, raw: bytes, expected: str) -> None:
    got = run(page, "return output.previewLine(Uint8Array.from(atob(arg), c => c.charCodeAt(0)));",
              base64.b64encode(raw).decode())
    assert got == expected


def test_binary_frame_parses_what_the_relay_encodes(page: Page) -> None:
    frame = encode_binary_output("agent.7:x", 2**40 + 5, "h\u00e9".encode())
    got = run(page, """
        const bytes = Uint8Array.from(atob(arg), c => c.charCodeAt(0));
        const f = output.parseBinaryFrame(bytes.buffer);
        return [f.agentId, f.offset, Array.from(f.data)];""", base64.b64encode(frame).decode())
    assert got == ["agent.7:x", 2**40 + 5, list("h\u00e9".encode())]


def test_backoff_grows_exponentially_with_bounded_jitter(page: Page) -> None:
    got = run(page, """
        const d = (a, r) => connection.backoffDelay(a, r);
        return [d(0, 0), d(0, 0.999), d(3, 0), d(3, 0.999), d(30, 0), d(30, 0.999)];""")
    assert got[0] == 250
    assert got[1] <= 500
    assert got[2] == 2000
    assert got[3] <= 4000
    assert got[4] == 15_000
    assert got[5] <= 30_000


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (None, {"rate": 40, "burst": 40}),  # a relay that does not tell: the defaults
        ({"rate": 50, "burst": 200}, {"rate": 40, "burst": 40}),
        ({"rate": 10, "burst": 10}, {"rate": 8, "burst": 5}),
        ({"rate": 0.5, "burst": 1}, {"rate": 0.4, "burst": 1}),
        ({"rate": "fast", "burst": -3}, {"rate": 40, "burst": 40}),
    ],
)
def test_input_pacing_stays_under_the_relays_limit(
    page: Page, limit: dict[str, Any] | None, expected: dict[str, float]
) -> None:
    got = run(page, "const pacer = await import('/static/js/pacer.mjs');"
                    " return pacer.pacing(arg);", limit)
    assert got == pytest.approx(expected)


def test_the_pacer_sends_at_once_then_keeps_and_joins_in_order(page: Page) -> None:
    got = run(page, """
        const { InputPacer } = await import('/static/js/pacer.mjs');
        let t = 0;
        const sent = [];
        const p = new InputPacer((d) => { sent.push(d); return true; },
                                 { rate: 10, burst: 2, now: () => t });
        for (const k of "abcde") p.push(k);
        const first = [...sent];
        await new Promise((resolve) => {
          t = 1000;  // the clock has a token again when the timer fires
          const check = () => (sent.length > first.length ? resolve() : setTimeout(check, 5));
          check();
        });
        return { first, sent };
    """)
    assert got["first"] == ["a", "b"]  # the burst: at once
    assert got["sent"] == ["a", "b", "cde"]  # the rest: together, in order, nothing lost
