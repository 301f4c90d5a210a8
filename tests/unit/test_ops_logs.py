"""``--log-format json``: one object per line, with the id of the logging connection."""

from __future__ import annotations

import asyncio
import json
import logging

from relay.ops.logs import JsonFormatter, bind_connection, make_formatter


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("relay.test", logging.INFO, __file__, 1, message, args, None)


async def test_each_connection_task_logs_its_own_id() -> None:
    formatter = JsonFormatter()

    async def connection(kind: str) -> tuple[str, dict[str, object]]:
        conn_id = bind_connection(kind)
        await asyncio.sleep(0)
        return conn_id, json.loads(formatter.format(record("auth ok: sub=%s", "alice")))

    (id1, line1), (id2, line2) = await asyncio.gather(connection("agent"),
                                                      connection("dashboard"))
    assert id1.startswith("agent-")
    assert id2.startswith("dashboard-")
    assert (line1["conn"], line2["conn"]) == (id1, id2)
    assert line1["message"] == "auth ok: sub=alice"
    assert (line1["level"], line1["logger"]) == ("info", "relay.test")
    assert str(line1["time"]).endswith("+00:00")


def test_a_line_outside_a_connection_has_no_conn_and_an_exception_stays_on_one_line() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        import sys
        rec = logging.LogRecord("relay", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    text = make_formatter("json").format(rec)
    assert "\n" not in text
    line = json.loads(text)
    assert "conn" not in line
    assert "ValueError: boom" in str(line["exc"])


def test_the_human_format_stays_the_default_shape() -> None:
    text = make_formatter("human").format(record("hello"))
    assert text.endswith(" INFO relay.test: hello")
