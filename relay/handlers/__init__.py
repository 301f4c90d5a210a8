"""The relay's I/O edge: aiohttp handlers for both WebSocket endpoints (``agent``,
``dashboard``, their shared life in ``endpoint``), the REST API (``rest``), the web page
(``page``), each connection's bounded outgoing queue (``outbox``), the per-identity
connection registry (``connections``) and the per-dashboard rate limit (``ratelimit``)."""
