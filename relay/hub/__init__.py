"""Shared relay state: the :class:`~relay.hub.interface.Hub` interface the handlers use,
the in-process hub (:mod:`relay.hub.local`), its scrollback ring and the cached agent
list both hubs build ``dashboard:connected`` from. :func:`relay.hub.factory.make_hub`
picks the in-process hub or the Redis-backed one (:mod:`relay.redis`)."""
