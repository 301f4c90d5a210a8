"""``agent-sidecar run``: the command under a PTY, its output streamed to the relay.

The order of a run:

1. relay: connect to ``--relay`` URLs, or start/join the embedded relay;
2. wait (at most ``startup_wait``) for the relay's first answer, so that a refused token
   fails before the command starts; an unreachable relay does not hold it back;
3. spawn the command; in interactive mode put the local terminal in raw mode;
4. pump: PTY -> retention (+ mirror), keys -> PTY, relay controls -> PTY, signals ->
   command; the link streams from the retention buffer on its own schedule;
5. the command exits: read the PTY to its end (or until it has been quiet for
   ``eof_grace`` when a background process keeps it open), send ``exited``, wait up to
   ``drain_timeout`` for the relay to confirm everything, exit with the command's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from relay.protocol import (
    AgentActivity,
    AgentHello,
    AgentState,
    AgentStatus,
    CommandInterrupt,
    CommandRequest,
    PermissionDecide,
    TerminalInput,
    TerminalResize,
)

from .activity.live import ActivityMonitor
from .activity.wire import to_wire
from .agents import agent_kind, agent_traits
from .config import SECRET_ENV, RunConfig, agent_ws_url
from .errors import RelayRefused
from .flow import OutputFlow
from .link import ControlMessage, FirstAnswer, Link, LinkSocket, Refusal
from .mirror import Mirror
from .modes import TerminalModes
from .output import IdleClock, OutputPipe
from .pty import ExitStatus, PtyChild, child_env
from .retention import Retention
from .steering import Steering
from .terminal import LocalTerminal

log = logging.getLogger(__name__)

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)
#: Most output one wakeup of the PTY reader collects (see PtyChild.start_reading).
MAX_READ_AHEAD = 256 * 1024


class CommandGone(Exception):
    """A control message arrived while the command is not running."""


class Runner:
    """One ``run``: owns the child, the retention buffer, the link and the local terminal."""

    def __init__(
        self,
        config: RunConfig,
        *,
        terminal: LocalTerminal | None = None,
        stdout_fd: int | None = None,
        notify: Callable[[str], None] | None = None,
        runtime_directory: Path | None = None,
        handle_signals: bool = True,
    ) -> None:
        self.config = config
        self.terminal = terminal if config.interactive else None
        self._stdout_fd = stdout_fd
        self._notify_fn = notify
        self._runtime_directory = runtime_directory
        self._handle_signals = handle_signals
        self.child: PtyChild | None = None
        self.retention = Retention(config.retain_bytes)
        self.state: AgentState = "running"
        self.exit: ExitStatus | None = None
        self.cols, self.rows = config.cols, config.rows
        self.started_at = time.time()
        self.link: Link | None = None
        self._pending_signal: int | None = None
        self.kind = agent_kind(config.command)
        #: The modes the command's output turned on (restored locally at the end).
        self.modes = TerminalModes()
        self.steering: Steering | None = None
        self._ending: asyncio.Task[None] | None = None
        self._end_signal: int | None = None
        self._aborted = asyncio.Event()
        self._drain_aborted = False
        #: The activity detector (contract section 11); None when turned off.
        self.activity: ActivityMonitor | None = None
        self.dashboard_url: str | None = None
        #: Lifecycle events (for callers and tests to wait on).
        self.spawned = asyncio.Event()
        self.exited = asyncio.Event()

    # ------------------------------------------------------------------ helpers

    def notify(self, text: str) -> None:
        if self._notify_fn is not None:
            self._notify_fn(text)
        elif self.terminal is not None:
            self.terminal.notice(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def hello(self) -> AgentHello:
        return AgentHello(
            agent_id=self.config.agent_id,
            name=self.config.name,
            host=socket.gethostname(),
            command=self.config.command,
            pid=self.child.pid if self.child else None,
            cols=self.cols,
            rows=self.rows,
            started_at=self.started_at,
            labels=dict(self.config.labels),
            local_terminal=self.terminal is not None,
        )

    def status(self) -> AgentStatus:
        return AgentStatus(
            state=self.state,
            pid=self.child.pid if self.child else None,
            cols=self.cols,
            rows=self.rows,
            exit_code=self.exit.code if self.exit else None,
            signal=self.exit.signal if self.exit else None,
        )

    def _set_state(self, state: AgentState) -> None:
        if state != self.state and self.state != "exited":
            self.state = state
            log.info("state: %s", state)
            if self.link is not None:
                self.link.status_changed()

    # ------------------------------------------------------------------ controller

    def apply(self, msg: ControlMessage) -> asyncio.Future[None] | None:
        """Relay -> PTY (the link's Controller), at once and in arrival order.

        Input is queued on the PTY before this returns; the returned future completes when
        the kernel has taken all of it (and fails if the terminal closes first), so a
        command that never reads its input holds up only its own ack, never a later
        resize or interrupt. Raises when the message cannot be applied (``ok: false``).
        """
        child = self.child
        steering = self.steering
        if child is None or steering is None or self.exit is not None:
            raise CommandGone("the command is not running")
        if self.activity is not None and isinstance(msg, CommandRequest | TerminalInput):
            self.activity.typed()
        match msg:
            case CommandRequest():
                if msg.submit:
                    return steering.submit(msg.input)
                return steering.write(msg.input.encode("utf-8", "replace"))
            case TerminalInput():
                return steering.keys(msg.data.encode("utf-8", "replace"))
            case TerminalResize():
                if self.terminal is not None:
                    # The size rule: a local terminal owns the size, dashboards adapt.
                    log.debug("ignored a dashboard resize: the local terminal sets the size")
                    return None
                self._resize(msg.cols, msg.rows)
                steering.resized()
            case CommandInterrupt():
                child.signal_foreground(signal.Signals[msg.signal])
            case PermissionDecide():
                if self.activity is None:
                    raise CommandGone("activity detection is off")
                return self.activity.decide(msg.decision_id, msg.decision, msg.message)
        return None

    def _resize(self, cols: int, rows: int) -> None:
        if self.child is None:
            return
        self.child.resize(cols, rows)
        self.cols, self.rows = cols, rows
        if self.activity is not None:
            self.activity.resize(cols, rows)
        if self.link is not None:
            self.link.status_changed()

    # ------------------------------------------------------------------ run

    async def run(self) -> int:
        """Run the command to its end; return the exit code for the sidecar."""
        if self.terminal is not None:
            self.cols, self.rows = self.terminal.size()
        local = None
        in_process = None
        if self.config.relays:
            urls = [agent_ws_url(u) for u in self.config.relays]

            def token() -> str | None:
                return self.config.token

            before_retry = None
        else:
            from .embedded import LocalRelay, runtime_dir

            local = LocalRelay(
                self.config.port,
                self._runtime_directory or runtime_dir(),
                notify=self.notify,
                notify_webhooks=self.config.notify_webhooks,
                notify_ntfy=self.config.notify_ntfy,
            )
            await local.start_or_join()
            urls = [local.agent_url]
            agent_id = self.config.agent_id

            def token() -> str | None:
                return local.agent_token(agent_id)

            before_retry = local.ensure
            in_process = local.in_process
            self.dashboard_url = local.dashboard_url()
            self.notify(f"Dashboard: {self.dashboard_url}")
        try:
            with self._signals():
                return await self._run_linked(urls, token, before_retry, in_process)
        finally:
            if local is not None:
                await local.close()

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if not self._handle_signals:
            yield
            return
        loop = asyncio.get_running_loop()
        for sig in FORWARDED_SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            yield
        finally:
            for sig in FORWARDED_SIGNALS:
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: int) -> None:
        name = signal.Signals(sig).name
        child = self.child
        if child is None:
            log.info("%s before the command started", name)
            self._pending_signal = sig
            self._aborted.set()
            return
        if self.exit is not None:
            # The command is gone and we are waiting for the relay: the user wants out.
            if self.link is not None and not self._drain_aborted:
                self._drain_aborted = True
                self.notify(f"agent-sidecar: {name}: not waiting for the relay any longer")
                self.link.stop()
            self._end_now()
            return
        log.info("forwarding %s to the command", name)
        if sig in (signal.SIGINT, signal.SIGQUIT):
            try:
                child.signal_foreground(sig)
            except OSError as exc:
                log.info("could not forward %s: %s", name, exc.strerror)
            return
        if self._ending is not None:
            self._end_now()  # asked twice: no more grace
            return
        self._end_signal = sig
        self._ending = asyncio.get_running_loop().create_task(self._end_command(child, sig))

    async def _end_command(self, child: PtyChild, sig: int) -> None:
        """Hangup or termination, passed on as a terminal does, then escalated.

        SIGHUP (the local terminal went away) goes with SIGCONT to the command's process
        group and the PTY's foreground group, like the kernel's hangup; SIGTERM goes to
        the command and both groups. Whatever is left of those groups after
        ``kill_grace`` seconds gets SIGTERM (after a hangup), then SIGKILL: a program
        that ignores the hangup in a child process (Gemini CLI did) still ends.
        """
        steps = [sig, signal.SIGTERM, signal.SIGKILL] if sig == signal.SIGHUP else [
            sig, signal.SIGKILL]
        for i, step in enumerate(steps):
            if i > 0:
                if not child.groups_alive():
                    return
                log.info("the command ignored %s for %g s: sending %s",
                         signal.Signals(steps[i - 1]).name, self.config.kill_grace,
                         signal.Signals(step).name)
            child.signal_groups(step, include_child=self.exit is None)
            if step == signal.SIGHUP:
                child.signal_groups(signal.SIGCONT, include_child=self.exit is None)
            if step == signal.SIGKILL:
                return
            await child.groups_gone(self.config.kill_grace)

    def _end_now(self) -> None:
        """A second SIGTERM/SIGHUP: kill what is left of the command without waiting."""
        task, child = self._ending, self.child
        if task is None or task.done() or child is None:
            return
        task.cancel()
        log.info("second signal: sending SIGKILL to the command")
        child.signal_groups(signal.SIGKILL, include_child=self.exit is None)

    async def _run_linked(
        self,
        urls: list[str],
        token: Callable[[], str | None],
        before_retry: Callable[[], Awaitable[None]] | None,
        in_process: Callable[[], LinkSocket | None] | None = None,
    ) -> int:
        link = Link(
            self.config.link_config(urls),
            self.retention,
            hello=self.hello,
            status=self.status,
            controller=self,
            token=token,
            before_retry=before_retry,
            in_process=in_process,
        )
        self.link = link
        link_task = asyncio.create_task(link.run())
        link_task.add_done_callback(self._link_done)
        try:
            answer = await _first_answer(link, self._aborted, self.config.startup_wait)
            if answer is FirstAnswer.REFUSED:
                assert link.refusal is not None
                raise RelayRefused(link.refusal.describe(self.config.agent_id))
            if self._pending_signal is not None:
                return 128 + self._pending_signal
            if answer is not FirstAnswer.WELCOMED:
                # Said once, before the command owns the screen.
                self.notify(
                    f"agent-sidecar: relay {urls[0]} not reachable yet; the command starts "
                    "anyway and its output is sent once the relay answers"
                )
            code = await self._run_child(link)
            delivered = await link.drain(self.config.drain_timeout)
            if self._ending is not None:
                # What is left of the command's groups ends before we do.
                with contextlib.suppress(asyncio.CancelledError):
                    await self._ending
            if not delivered and link.refusal is None and not self._drain_aborted:
                first, end = link.unconfirmed()
                self.notify(
                    "agent-sidecar: the relay did not confirm the end of the output within "
                    f"{self.config.drain_timeout:g} s: {end - first} bytes (offsets {first} to "
                    f"{end}) may not have reached it; exiting anyway"
                )
            return code
        finally:
            link.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(link_task, timeout=5.0)

    def _link_done(self, task: asyncio.Task[Refusal | None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("relay link failed", exc_info=exc)
            self.notify(f"agent-sidecar: relay link failed ({type(exc).__name__}); not streaming")
            return
        refusal = task.result()
        if refusal is not None and self.child is not None and self.exit is None:
            self.notify(
                f"agent-sidecar: {refusal.describe(self.config.agent_id)}; "
                "no longer streaming, the command keeps running"
            )

    async def _run_child(self, link: Link) -> int:
        cfg = self.config
        if self.terminal is not None:
            self.cols, self.rows = self.terminal.size()
        env = child_env(os.environ, SECRET_ENV)
        command: list[str] = list(cfg.command)
        if cfg.activity.enabled:
            self.activity = ActivityMonitor(
                self.kind,
                lambda a: link.set_activity(AgentActivity(activity=to_wire(a))),
                cfg.activity,
                cols=self.cols,
                rows=self.rows,
            )
            command, env = await self.activity.prepare(command, env)
        try:
            child = await PtyChild.spawn(
                command, env=env, cols=self.cols, rows=self.rows, cwd=cfg.cwd
            )
        except BaseException:
            if self.activity is not None:
                await self.activity.close()
            raise
        self.child = child
        traits = agent_traits(self.kind)
        self.steering = Steering(
            child,
            self.modes,
            submit_gap=traits.submit_gap,
            paste_gap=traits.paste_gap,
            paste_single_line=traits.paste_single_line,
            submit_timeout=cfg.submit_timeout,
        )
        if self.activity is not None:
            self.activity.started(child.fd, child.pid)
        self.spawned.set()
        link.status_changed()
        mirror = None
        if self._stdout_fd is not None and (cfg.mirror or self.terminal is not None):
            mirror = Mirror(self._stdout_fd)
        try:
            with self._raw_terminal():
                exit_status = await self._pump(child, link, mirror)
        finally:
            self.steering.close()
            child.close()
            if mirror is not None:
                mirror.close(timeout=2.0)
            self._restore_local_screen()
            if self.activity is not None:
                await self.activity.close()
        return exit_status.code

    def _restore_local_screen(self) -> None:
        """Main screen, cursor shown, mouse/paste/keypad modes off: whatever the command
        left on (a killed full-screen program leaves them all)."""
        if self.terminal is None or self._stdout_fd is None:
            return
        data = memoryview(self.modes.restore_sequence())
        with contextlib.suppress(OSError):
            while data:
                data = data[os.write(self._stdout_fd, data):]

    @contextlib.contextmanager
    def _raw_terminal(self) -> Iterator[None]:
        term = self.terminal
        if term is None:
            yield
            return
        loop = asyncio.get_running_loop()
        with term.raw():
            loop.add_signal_handler(signal.SIGWINCH, self._on_winch)
            loop.add_signal_handler(signal.SIGCONT, self._on_cont)
            try:
                yield
            finally:
                loop.remove_signal_handler(signal.SIGWINCH)
                loop.remove_signal_handler(signal.SIGCONT)

    def _on_cont(self) -> None:
        """Resumed after a stop: raw mode again, and the window may have changed."""
        if self.terminal is not None:
            self.terminal.reapply()
            self._on_winch()

    def _on_winch(self) -> None:
        if self.terminal is not None and self.exit is None:
            cols, rows = self.terminal.size()
            if (cols, rows) != (self.cols, self.rows):
                self._resize(cols, rows)

    async def _pump(self, child: PtyChild, link: Link, mirror: Mirror | None) -> ExitStatus:
        loop = asyncio.get_running_loop()
        steering = self.steering
        assert steering is not None
        eof: asyncio.Future[None] = loop.create_future()
        idle = IdleClock(
            self.config.idle_after, lambda i: self._set_state("idle" if i else "running")
        )
        pipe = OutputPipe(
            self.retention, flush_delay=self.config.utf8_flush_delay, on_output=link.wake
        )
        last_read = loop.time()
        flow = OutputFlow(
            high=self.retention.capacity // 2,
            low=self.retention.capacity // 4,
            max_stall=self.config.max_output_stall,
            backlog=link.backlog,
            pause=child.pause_reading,
            resume=child.resume_reading,
            loop=loop,
        )

        activity = self.activity

        def on_data(data: bytes) -> None:
            nonlocal last_read
            last_read = loop.time()
            self.modes.feed(data)
            steering.output()
            pipe.feed(data)
            if activity is not None:
                activity.output(data)
            idle.activity()
            if mirror is not None:
                mirror.write(data)
            flow.after_read()

        link.on_progress = flow.progress

        def on_eof() -> None:
            if not eof.done():
                eof.set_result(None)

        # One batch stays under a quarter of the buffer, so flow control (pausing at half)
        # can never be overshot into dropping output.
        child.start_reading(
            on_data, on_eof, read_ahead=min(MAX_READ_AHEAD, self.retention.capacity // 4)
        )
        idle.start()
        stdin_fd = self.terminal.stdin_fd if self.terminal is not None else None
        if stdin_fd is not None:
            loop.add_reader(stdin_fd, self._forward_keys, stdin_fd, child)
        try:
            exit_status = await child.wait()
            if stdin_fd is not None:
                loop.remove_reader(stdin_fd)
                stdin_fd = None
            await self._await_eof(eof, lambda: last_read)
            if not eof.done():
                child.stop_reading()
                rest = child.read_available()
                if rest:
                    on_data(rest)
                log.info("output still open after the command exited; stopped reading")
        finally:
            link.on_progress = None
            flow.close()
            if stdin_fd is not None:
                loop.remove_reader(stdin_fd)
            idle.stop()
            pipe.close()
        log.info("output ended: %d bytes", pipe.total)
        self.exit = exit_status
        self.state = "exited"
        self.exited.set()
        link.finish()
        link.status_changed()
        return exit_status

    async def _await_eof(self, eof: asyncio.Future[None], last_read: Callable[[], float]) -> None:
        """Wait for end of output; give up once quiet for ``eof_grace`` (hard cap 10x)."""
        loop = asyncio.get_running_loop()
        grace = self.config.eof_grace
        cap = loop.time() + grace * 10
        while not eof.done():
            now = loop.time()
            wait = min(last_read() + grace, cap) - now
            if wait <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(eof), wait)

    def _forward_keys(self, fd: int, child: PtyChild) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(fd)
            return
        if self.activity is not None:
            self.activity.typed()
        child.send(data).add_done_callback(_consume)


def _consume(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("dropped keys: the command is gone")


async def _first_answer(link: Link, aborted: asyncio.Event, wait: float) -> FirstAnswer | None:
    """The link's first answer, or None after ``wait`` seconds or a signal."""
    abort: asyncio.Future[object] = asyncio.ensure_future(aborted.wait())
    answer: asyncio.Future[object] = link.first_answer  # type: ignore[assignment]
    try:
        await asyncio.wait(
            {answer, abort}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        abort.cancel()
    return link.first_answer.result() if link.first_answer.done() else None
