"""Recordings: each agent's output as asciicast v2, in memory and optionally on disk.

The handlers call :class:`Recorder` once per event: :meth:`~Recorder.agent_started`
(hello), :meth:`~Recorder.output` (every chunk a sidecar sends), :meth:`~Recorder.resize`
(every ``agent:status``, which carries the applied size), :meth:`~Recorder.marker`
(activity changes, decisions, exits).

In memory a recording is a :class:`relay.ops.cast.Timeline` (a few numbers per chunk);
the bytes are the hub's scrollback, so a cast from memory covers what the scrollback
holds. With ``--record-dir DIR`` each agent's events are also appended to
``DIR/AGENT_ID.cast`` as they happen, which keeps them past the scrollback and past a
relay restart (a restarted relay continues the file, times counted from its header),
up to ``record_max_bytes`` per file; past that the file ends with a marker.

Files are written through a buffer and flushed when the agent disconnects, when the
cast is read and at shutdown, so a crash loses at most the last buffer.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from relay.ops.cast import Timeline, event, header, size

log = logging.getLogger(__name__)

FILE_BUFFER = 64 * 1024
TRUNCATED = "recording stopped: size cap reached"


@dataclass(slots=True)
class _CastFile:
    path: Path
    file: IO[bytes]
    started: int
    written: int
    end: int | None
    decoder: codecs.IncrementalDecoder
    stopped: bool = False
    #: the terminal size the file last recorded (None: unknown, a continued file)
    size: tuple[int, int] | None = None


class Recorder:
    def __init__(
        self,
        *,
        record_dir: Path | None,
        max_file_bytes: int,
        forget_after: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dir = record_dir
        self._max = max_file_bytes
        self._forget_after = forget_after
        self._clock = clock
        self._timelines: dict[str, Timeline] = {}
        self._last_seen: dict[str, float] = {}
        self._files: dict[str, _CastFile] = {}

    # ------------------------------------------------------------------ events

    def agent_started(self, agent_id: str, cols: int, rows: int, title: str) -> None:
        now = self._clock()
        self._prune(now)
        timeline = self._timelines.get(agent_id)
        if timeline is None:
            self._timelines[agent_id] = Timeline(started=now, cols=cols, rows=rows,
                                                 title=title)
        else:
            timeline.resize(now, cols, rows)
        self._last_seen[agent_id] = now
        if self._dir is not None:
            cast = self._open(agent_id, cols, rows, title, now)
            if cast is not None:
                self._file_size(cast, cols, rows, now)

    def agent_gone(self, agent_id: str) -> None:
        """A connection of the agent ended: flush its file (a successor may continue it)."""
        cast = self._files.get(agent_id)
        if cast is not None:
            self._flush(cast)

    def output(self, agent_id: str, offset: int, data: bytes) -> None:
        now = self._clock()
        timeline = self._timelines.get(agent_id)
        if timeline is None:
            return
        self._last_seen[agent_id] = now
        end = offset + len(data)
        timeline.output(now, end)
        cast = self._files.get(agent_id)
        if cast is None and self._dir is not None:
            cast = self._open(agent_id, timeline.cols, timeline.rows, timeline.title or "", now)
        if cast is None or cast.stopped:
            return
        if cast.end is not None and end <= cast.end:
            return
        if cast.end is not None and offset < cast.end:
            data = data[cast.end - offset:]
        elif cast.end is not None and offset > cast.end:
            self._write(cast, event(now - cast.started, "m", f"gap: bytes before {offset} lost"))
        cast.end = end
        text = cast.decoder.decode(data)
        if text:
            self._write(cast, event(now - cast.started, "o", text))

    def resize(self, agent_id: str, cols: int, rows: int) -> None:
        timeline = self._timelines.get(agent_id)
        now = self._clock()
        if timeline is None or not timeline.resize(now, cols, rows):
            return
        cast = self._files.get(agent_id)
        if cast is not None:
            self._file_size(cast, cols, rows, now)

    def marker(self, agent_id: str, label: str) -> None:
        timeline = self._timelines.get(agent_id)
        if timeline is None:
            return
        now = self._clock()
        timeline.marker(now, label)
        cast = self._files.get(agent_id)
        if cast is not None:
            self._write(cast, event(now - cast.started, "m", label))

    def activity(self, agent_id: str, label: str) -> None:
        """A marker for an activity report, unless it repeats the last one."""
        timeline = self._timelines.get(agent_id)
        if timeline is None or timeline.activity == label:
            return
        timeline.activity = label
        self.marker(agent_id, label)

    # ------------------------------------------------------------------ reads

    def timeline(self, agent_id: str) -> Timeline | None:
        return self._timelines.get(agent_id)

    def file_of(self, agent_id: str) -> Path | None:
        """The agent's cast file (flushed), if ``--record-dir`` holds one."""
        if self._dir is None:
            return None
        cast = self._files.get(agent_id)
        if cast is not None:
            self._flush(cast)
            return cast.path
        path = self._path(agent_id)
        return path if path.is_file() else None

    def close(self) -> None:
        for agent_id in list(self._files):
            self._close_file(agent_id)

    # ------------------------------------------------------------------ internals

    def _path(self, agent_id: str) -> Path:
        assert self._dir is not None
        return self._dir / f"{agent_id}.cast"

    def _prune(self, now: float) -> None:
        stale = [a for a, t in self._last_seen.items() if now - t > self._forget_after]
        for agent_id in stale:
            self._timelines.pop(agent_id, None)
            self._last_seen.pop(agent_id, None)
            self._close_file(agent_id)

    def _close_file(self, agent_id: str) -> None:
        cast = self._files.pop(agent_id, None)
        if cast is not None:
            try:
                cast.file.close()
            except OSError as exc:
                log.error("recording %s: close failed: %s", cast.path, exc)

    def _flush(self, cast: _CastFile) -> None:
        try:
            cast.file.flush()
        except OSError as exc:
            log.error("recording %s: flush failed: %s", cast.path, exc)
            cast.stopped = True

    def _open(self, agent_id: str, cols: int, rows: int, title: str, now: float
              ) -> _CastFile | None:
        cast = self._files.get(agent_id)
        if cast is not None:
            return cast
        path = self._path(agent_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            started = _started_of(path)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            file = os.fdopen(fd, "ab", buffering=FILE_BUFFER)
            written = os.fstat(fd).st_size
        except OSError as exc:
            log.error("recording of agent %s: cannot open %s: %s", agent_id, path, exc)
            return None
        cast = _CastFile(path=path, file=file, started=started or int(now), written=written,
                         end=None, decoder=codecs.getincrementaldecoder("utf-8")("replace"),
                         stopped=written >= self._max)
        self._files[agent_id] = cast
        if started is None:
            self._write(cast, header(cols, rows, cast.started, title))
            cast.size = (cols, rows)
        return cast

    def _file_size(self, cast: _CastFile, cols: int, rows: int, now: float) -> None:
        if cast.size != (cols, rows):
            cast.size = (cols, rows)
            self._write(cast, event(now - cast.started, "r", size(cols, rows)))

    def _write(self, cast: _CastFile, line: str) -> None:
        if cast.stopped:
            return
        data = line.encode("utf-8", "surrogatepass") + b"\n"
        if cast.written + len(data) > self._max:
            data = (event(self._clock() - cast.started, "m", TRUNCATED) + "\n").encode()
            cast.stopped = True
        try:
            cast.file.write(data)
        except OSError as exc:
            log.error("recording %s: write failed: %s", cast.path, exc)
            cast.stopped = True
            return
        cast.written += len(data)


def _started_of(path: Path) -> int | None:
    """The ``timestamp`` of an existing cast's header, or None for a new file."""
    try:
        with path.open("rb") as f:
            first = f.readline(65536)
    except FileNotFoundError:
        return None
    if not first.strip():
        return None
    try:
        head = json.loads(first)
        return int(head["timestamp"])
    except (ValueError, KeyError, TypeError):
        raise OSError(f"{path} exists but is not an asciicast v2 file") from None
