"""``make_hub(config)``: the hub a relay runs with.

Without ``redis_url`` the in-process :class:`relay.hub.local.LocalHub`; with it the
Redis-backed hub, imported only then, so a relay without ``--redis`` never loads redis.
"""

from __future__ import annotations

from collections.abc import Callable

from relay.config import RelayConfig
from relay.hub.interface import ChangeObserver, Hub
from relay.hub.local import LocalHub


def make_hub(
    config: RelayConfig,
    on_change: ChangeObserver | None = None,
    on_redis_roundtrip: Callable[[float], None] | None = None,
) -> Hub:
    """``on_change`` sees every change the hub announces to dashboards (notifications);
    ``on_redis_roundtrip`` gets the seconds each timed Redis command took (metrics)."""
    if config.redis_url is None:
        return LocalHub(
            scrollback_bytes=config.scrollback_bytes,
            forget_after=config.forget_after,
            on_change=on_change,
            typing_seconds=config.typing_seconds,
            scrollback_budget=config.scrollback_budget_bytes,
        )
    from relay.redis.hub import RedisHub

    return RedisHub(
        url=config.redis_url,
        scrollback_bytes=config.scrollback_bytes,
        forget_after=config.forget_after,
        liveness_ttl=config.redis_liveness_ttl,
        sweep_interval=config.redis_sweep_interval,
        prefix=config.redis_prefix,
        slow_consumer_bytes=config.slow_consumer_bytes,
        on_change=on_change,
        on_roundtrip=on_redis_roundtrip,
        typing_seconds=config.typing_seconds,
    )
