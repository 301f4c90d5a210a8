"""The Redis-backed hub: relays sharing one Redis act as one relay.

:mod:`relay.redis.hub` is the :class:`~relay.hub.interface.Hub`; the other modules are
its parts: key layout (``keys``), agent records (``state``), output streams (``stream``)
and their append pipelines (``pipeline``), live output across relays (``feed``), the
pub/sub bus (``bus``), control routing (``control``), liveness and the sweeper
(``liveness``) and the applied record version (``version``). Imported only when a relay
runs with ``--redis``.
"""
