"""The notifier: observes agent changes, delivers notices to webhooks and ntfy topics.

The hub calls :meth:`Notifier.observe` for every change it announces; ``observe`` never
blocks and never raises. Each channel has its own bounded queue and its own task, so a
slow or dead receiver delays only its own notices; when a queue is full the newest
notice for that channel is dropped and logged. A delivery is retried with exponential
backoff on connection errors, timeouts, HTTP 408, 429 and 5xx, and given up on other
answers or after ``attempts`` tries. Log lines name a channel by scheme and host only:
its URL may carry a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, Protocol, TypeAlias

import aiohttp

from relay.notify.claims import Claims
from relay.notify.events import (
    Notice,
    channel_id,
    notice_for,
    ntfy_message,
    redact_url,
    webhook_body,
)
from relay.protocol import AgentInfo

log = logging.getLogger(__name__)

ChannelKind: TypeAlias = Literal["webhook", "ntfy"]

#: Notices waiting per channel before new ones are dropped.
QUEUE_LIMIT: Final = 256
#: Longest wait between two attempts.
MAX_RETRY_DELAY: Final = 60.0
#: At shutdown, how long queued notices may still take before they are dropped (a
#: ``run`` whose command just failed exits right after; its notice should still go).
CLOSE_FLUSH_SECONDS: Final = 3.0
_RETRY_STATUSES: Final = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class Channel:
    kind: ChannelKind
    url: str

    @property
    def id(self) -> str:
        return channel_id(f"{self.kind} {self.url}")

    @property
    def shown(self) -> str:
        return f"{self.kind} {redact_url(self.url)}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """How hard to try: attempts per notice, first retry delay (doubling), per-attempt
    timeout, all in seconds."""

    attempts: int = 5
    retry_delay: float = 1.0
    timeout: float = 10.0


def retry_delay(policy: Delivery, attempt: int) -> float:
    """Seconds before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
    return float(min(MAX_RETRY_DELAY, policy.retry_delay * 2 ** (attempt - 1)))


class _Retry(Exception):
    """This attempt failed in a way worth another try; the message says how."""


class Meter(Protocol):
    """Delivery counts by channel kind (``relay.ops.metrics.RelayMetrics`` is one)."""

    def notification_delivered(self, channel: str) -> None: ...

    def notification_failed(self, channel: str) -> None: ...


class Notifier:
    def __init__(
        self,
        channels: list[Channel],
        claims: Claims,
        *,
        base_url: str | None = None,
        delivery: Delivery | None = None,
        clock: Callable[[], float] = time.time,
        meter: Meter | None = None,
    ) -> None:
        self.channels = channels
        #: Where the dashboard is (links ``BASE/#agent=ID``); set once the relay listens
        #: when not configured.
        self.base_url = base_url
        self._claims = claims
        self._delivery = delivery or Delivery()
        self._clock = clock
        self._meter = meter
        self._queues = {c: asyncio.Queue[Notice](QUEUE_LIMIT) for c in channels}
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        await self._claims.start()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._delivery.timeout),
            headers={"User-Agent": "agent-relay-notify"},
        )
        for channel, queue in self._queues.items():
            self._tasks.append(
                asyncio.create_task(self._worker(channel, queue), name=f"notify {channel.kind}")
            )
        log.info("notifications to %s", ", ".join(c.shown for c in self.channels))

    async def close(self) -> None:
        try:
            async with asyncio.timeout(min(CLOSE_FLUSH_SECONDS, self._delivery.timeout)):
                await self.drained()
        except TimeoutError:
            left = sum(q.qsize() for q in self._queues.values())
            log.warning("notify: shutting down with %d notices not delivered", left)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._claims.close()

    # ------------------------------------------------------------------ the hub's side

    def observe(self, old: AgentInfo | None, new: AgentInfo) -> None:
        """A hub announced a change (``ChangeObserver``); queue its notice, if any."""
        try:
            notice = notice_for(old, new, self._clock())
        except Exception:  # a bug here must not break the hub that called
            log.exception("notify: could not judge a change of agent %s", new.agent_id)
            return
        if notice is None:
            return
        for channel, queue in self._queues.items():
            try:
                queue.put_nowait(notice)
            except asyncio.QueueFull:
                self._failed(channel)
                log.warning(
                    "notify: %s is %d notices behind; dropped %s of agent %s",
                    channel.shown,
                    queue.qsize(),
                    notice.kind,
                    notice.info.agent_id,
                )

    # ------------------------------------------------------------------ delivery

    async def drained(self) -> None:
        """Return once every notice queued so far was delivered, skipped or given up."""
        for queue in self._queues.values():
            await queue.join()

    async def _worker(self, channel: Channel, queue: asyncio.Queue[Notice]) -> None:
        while True:
            notice = await queue.get()
            try:
                await self._deliver(channel, notice)
            except Exception:  # never let one notice end the channel's task
                log.exception("notify: delivering to %s failed", channel.shown)
            finally:
                queue.task_done()

    async def _deliver(self, channel: Channel, notice: Notice) -> None:
        agent_id = notice.info.agent_id
        key = f"{channel.id}:{agent_id}:{notice.key}"
        claimed = False
        policy = self._delivery
        for attempt in range(1, policy.attempts + 1):
            try:
                if not claimed:
                    if not await self._claim(key):
                        log.debug(
                            "notify: %s of agent %s to %s: another relay has it",
                            notice.kind,
                            agent_id,
                            channel.shown,
                        )
                        return
                    claimed = True
                await self._post(channel, notice)
            except _Retry as exc:
                if attempt == policy.attempts:
                    self._failed(channel)
                    log.warning("notify: %s of agent %s to %s: gave up after %d attempts (%s)",
                                notice.kind, agent_id, channel.shown, attempt, exc)
                    return
                delay = retry_delay(policy, attempt)
                log.info(
                    "notify: %s of agent %s to %s: %s; retry in %g s",
                    notice.kind,
                    agent_id,
                    channel.shown,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
            except _GiveUp as exc:
                self._failed(channel)
                log.warning("notify: %s of agent %s to %s: %s; not retried",
                            notice.kind, agent_id, channel.shown, exc)
                return
            else:
                if self._meter is not None:
                    self._meter.notification_delivered(channel.kind)
                log.info("notify: %s of agent %s sent to %s", notice.kind, agent_id,
                         channel.shown)
                return

    def _failed(self, channel: Channel) -> None:
        if self._meter is not None:
            self._meter.notification_failed(channel.kind)

    async def _claim(self, key: str) -> bool:
        try:
            return await self._claims.claim(key)
        except Exception as exc:  # Redis unreachable: decide later
            raise _Retry(f"cannot claim the notice ({type(exc).__name__})") from None

    async def _post(self, channel: Channel, notice: Notice) -> None:
        assert self._session is not None, "notifier used before start"
        if channel.kind == "webhook":
            body = json.dumps(webhook_body(notice, self.base_url), ensure_ascii=False).encode()
            headers = {"Content-Type": "application/json"}
        else:
            headers, body = ntfy_message(notice, self.base_url)
        try:
            async with self._session.post(channel.url, data=body, headers=headers) as resp:
                status = resp.status
                await resp.read()
        except TimeoutError:
            raise _Retry(f"no answer within {self._delivery.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise _Retry(f"connection failed ({type(exc).__name__})") from None
        if 200 <= status < 300:
            return
        if status >= 500 or status in _RETRY_STATUSES:
            raise _Retry(f"HTTP {status}")
        raise _GiveUp(f"HTTP {status}")


class _GiveUp(Exception):
    """This notice cannot be delivered to this channel; the message says why."""
