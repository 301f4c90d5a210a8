"""Notifications (contract section 12): webhook and ntfy deliveries of agent transitions.

Layout::

    events.py    which changes notify (waiting, finished, failed) and what is sent; pure
    claims.py    at most once per transition and channel: in memory, or SET NX in Redis
    notifier.py  the hub's observer: a bounded queue and a task per channel, retries

:func:`make_notifier` builds the notifier a relay's config asks for (None without
channels); ``relay.app`` starts it before the hub and hands ``observe`` to the hub.
"""

from __future__ import annotations

from relay.config import RelayConfig
from relay.notify.claims import Claims, MemoryClaims, RedisClaims
from relay.notify.notifier import Channel, Delivery, Meter, Notifier

__all__ = ["Channel", "Delivery", "Notifier", "make_notifier"]


def make_notifier(config: RelayConfig, meter: Meter | None = None) -> Notifier | None:
    """The relay's notifier, or None without channels; ``meter`` counts deliveries."""
    channels = [Channel("webhook", url) for url in config.notify_webhooks]
    channels += [Channel("ntfy", url) for url in config.notify_ntfy]
    if not channels:
        return None
    claims: Claims = MemoryClaims()
    if config.redis_url is not None:
        claims = RedisClaims(config.redis_url, config.redis_prefix)
    return Notifier(
        channels,
        claims,
        base_url=config.public_url,
        delivery=Delivery(
            attempts=config.notify_attempts,
            retry_delay=config.notify_retry_delay,
            timeout=config.notify_timeout,
        ),
        meter=meter,
    )
