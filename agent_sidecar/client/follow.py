"""Follow an agent's output across relay restarts and dropped connections.

:func:`follow` is :meth:`Client.subscribe` with ``follow=True`` that survives the
connection: when it is lost (the relay restarted, a load balancer dropped it, the client
read too slowly and got 4503), it connects again with backoff and resubscribes from the
next offset it has not delivered, so the reader still gets every byte once, in order; the
bytes the relay no longer has arrive as a gap, as the contract announces them.

Only the losses are retried. A refused token, a forbidden or unknown agent, or a relay
that cannot be reached at the first attempt end the iteration with their error, as
:meth:`Client.connect` and :meth:`Client.subscribe` raise them. After a loss, an unknown
agent is waited for too: a restarted relay knows an agent only once its sidecar has
reconnected, which takes its own backoff.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable

from agent_sidecar.backoff import BackoffPolicy, backoff_delay

from .connection import Client
from .errors import ClientError, ConnectionLost, RelayUnreachable, UnknownAgent
from .stream import Exited, StreamEvent

#: Reconnection delays: from 0.2 s, doubling up to 5 s (a relay restart takes seconds).
DEFAULT_BACKOFF = BackoffPolicy(initial=0.2, maximum=5.0)


async def follow(
    connect: Callable[[], Awaitable[Client]],
    agent_id: str,
    since: int | None = None,
    *,
    backoff: BackoffPolicy = DEFAULT_BACKOFF,
    on_lost: Callable[[ClientError], None] | None = None,
    on_back: Callable[[], None] | None = None,
) -> AsyncIterator[StreamEvent]:
    """The agent's output from ``since`` until it exits (:class:`Exited` last).

    ``connect`` makes a new connected :class:`Client` (it is closed here). ``on_lost`` is
    told each loss, ``on_back`` each successful resubscription after one.
    """
    offset = since
    attempt = 0
    subscribed_once = False
    while True:
        client: Client | None = None
        try:
            client = await connect()
            stream = await client.subscribe(agent_id, since=offset, follow=True)
            if subscribed_once and on_back is not None:
                on_back()
            subscribed_once = True
            attempt = 0
            async for event in stream:
                offset = stream.next_offset
                yield event
                if isinstance(event, Exited):
                    return
            return
        except (ConnectionLost, RelayUnreachable, UnknownAgent) as exc:
            if not subscribed_once:
                raise
            if on_lost is not None:
                on_lost(exc)
        finally:
            if client is not None:
                await client.close()
        await asyncio.sleep(backoff_delay(backoff, attempt, random.random()))  # noqa: S311
        attempt += 1
