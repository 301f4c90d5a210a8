"""Log output: the human format (default) or JSON, one object per line.

``--log-format json`` writes each record as ``{"time", "level", "logger", "message",
"conn"?, "exc"?}``; ``conn`` is the id of the WebSocket connection whose task logged it
(set by :func:`bind_connection` when a connection starts; every line a connection's
handler, and the hub code it calls, logs carries it). The human format is unchanged.

The connection id lives in a :class:`contextvars.ContextVar`: asyncio gives each
connection's task its own context, so the id follows the task without being passed.
A ContextVar has to be created once per process, which is why this one is module-level.
"""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
from datetime import UTC, datetime
from typing import Final, Literal, TypeAlias

LogFormat: TypeAlias = Literal["human", "json"]
LOG_FORMATS: Final = ("human", "json")
HUMAN_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_CONNECTION: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "agent_relay_connection", default=None
)


def bind_connection(kind: str) -> str:
    """Give the current task's connection a new id (``kind-hex``) and return it."""
    conn_id = f"{kind}-{secrets.token_hex(4)}"
    _CONNECTION.set(conn_id)
    return conn_id


def connection_id() -> str | None:
    return _CONNECTION.get()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        conn = _CONNECTION.get()
        if conn is not None:
            line["conn"] = conn
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def make_formatter(log_format: LogFormat) -> logging.Formatter:
    """The formatter of ``--log-format``: JSON lines, or the human format."""
    if log_format == "json":
        return JsonFormatter()
    return logging.Formatter(HUMAN_FORMAT)
