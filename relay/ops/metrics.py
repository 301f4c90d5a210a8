"""The relay's Prometheus metrics: one :class:`RelayMetrics` per application.

Each relay owns a :class:`prometheus_client.CollectorRegistry` (no module-level
registry), so two relays in one process (tests, the embedded relay) never share counts.
Counters are bumped by one call per event from the handlers (those bumped per keystroke
are plain numbers read when the registry is collected, :class:`_HotCounters`); the
gauges that describe the current state (connections, agents) are filled in when
``/metrics`` is read, from :meth:`RelayMetrics.refresh`.

Names (all prefixed ``agent_relay_``)::

    connections{kind}                  open WebSockets by endpoint (agent, dashboard)
    agents{state}                      known agents by state (running, idle, exited,
                                       disconnected); with Redis: the whole fleet
    agents_activity{activity}          known agents by activity (working, waiting, idle,
                                       unknown, none = not reported)
    output_received_bytes_total        output bytes received from sidecars
    output_sent_bytes_total            output frames' bytes written to dashboards
    messages_received_total{endpoint,type}
    errors_sent_total{code}            ``error`` messages sent, by contract code
    rate_limited_total{type}           input-bearing messages dropped by the rate limit
    slow_consumer_closes_total         connections closed with 4503
    connections_dropped_pending_total  connections closed before their first request head
                                       because too many were pending (relay.listener)
    redis_roundtrip_seconds            histogram of timed Redis commands
    notifications_delivered_total{channel}
    notifications_failed_total{channel}
    audit_records_total{action,outcome}
    audit_dropped_total                records a slow or unreachable sink lost
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

PREFIX = "agent_relay"
AGENT_STATES = ("running", "idle", "exited", "disconnected")
ACTIVITIES = ("working", "waiting", "idle", "unknown", "none")
CONNECTION_KINDS = ("agent", "dashboard")
RTT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class RelayMetrics:
    """Counters and gauges of one relay, registered in :attr:`registry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._connections = Gauge(
            f"{PREFIX}_connections", "Open WebSocket connections by endpoint.",
            ["kind"], registry=r,
        )
        self._agents = Gauge(
            f"{PREFIX}_agents", "Known agents by state.", ["state"], registry=r
        )
        self._activity = Gauge(
            f"{PREFIX}_agents_activity", "Known agents by activity (none: not reported).",
            ["activity"], registry=r,
        )
        self._errors = Counter(
            f"{PREFIX}_errors_sent", "error messages sent, by code.", ["code"], registry=r
        )
        self._rate_limited = Counter(
            f"{PREFIX}_rate_limited", "Input-bearing messages dropped by the rate limit.",
            ["type"], registry=r,
        )
        self._slow = Counter(
            f"{PREFIX}_slow_consumer_closes", "Connections closed with 4503 (slow consumer).",
            registry=r,
        )
        self._dropped_pending = Counter(
            f"{PREFIX}_connections_dropped_pending",
            "Connections closed before their first request head because more than "
            "max_pending_connections were waiting for one.", registry=r,
        )
        self._rtt = Histogram(
            f"{PREFIX}_redis_roundtrip_seconds", "Round-trip time of timed Redis commands.",
            buckets=RTT_BUCKETS, registry=r,
        )
        self._delivered = Counter(
            f"{PREFIX}_notifications_delivered", "Notifications delivered, by channel.",
            ["channel"], registry=r,
        )
        self._failed = Counter(
            f"{PREFIX}_notifications_failed", "Notification deliveries that failed.",
            ["channel"], registry=r,
        )
        self._audit_dropped = Counter(
            f"{PREFIX}_audit_dropped", "Audit records a slow or unreachable sink lost.",
            registry=r,
        )
        self._hot = _HotCounters()
        r.register(self._hot)
        for kind in CONNECTION_KINDS:
            self._connections.labels(kind).set(0)
        for state in AGENT_STATES:
            self._agents.labels(state).set(0)
        for activity in ACTIVITIES:
            self._activity.labels(activity).set(0)

    # ------------------------------------------------------------------ events

    def output_received(self, nbytes: int) -> None:
        self._hot.output_in += nbytes

    def output_sent(self, nbytes: int) -> None:
        self._hot.output_out += nbytes

    def message_received(self, endpoint: str, type_: str) -> None:
        messages = self._hot.messages
        key = (endpoint, type_)
        messages[key] = messages.get(key, 0) + 1

    def error_sent(self, code: str) -> None:
        self._errors.labels(code).inc()

    def rate_limited(self, type_: str) -> None:
        self._rate_limited.labels(type_).inc()

    def slow_consumer_closed(self) -> None:
        self._slow.inc()

    def pending_connection_dropped(self) -> None:
        self._dropped_pending.inc()

    def redis_roundtrip(self, seconds: float) -> None:
        self._rtt.observe(seconds)

    def notification_delivered(self, channel: str) -> None:
        """For the notification senders: one delivery on ``channel`` succeeded."""
        self._delivered.labels(channel).inc()

    def notification_failed(self, channel: str) -> None:
        """For the notification senders: one delivery on ``channel`` failed."""
        self._failed.labels(channel).inc()

    def audit_recorded(self, action: str, outcome: str) -> None:
        audit = self._hot.audit
        key = (action, outcome)
        audit[key] = audit.get(key, 0) + 1

    def audit_dropped(self, n: int = 1) -> None:
        self._audit_dropped.inc(n)

    # ------------------------------------------------------------------ state

    def refresh(
        self,
        connections: Mapping[str, int],
        agents: Iterable[tuple[str, str | None]],
    ) -> None:
        """Set the gauges: open connections by kind, and ``(state, activity)`` per agent."""
        for kind in set(CONNECTION_KINDS) | set(connections):
            self._connections.labels(kind).set(connections.get(kind, 0))
        states = dict.fromkeys(AGENT_STATES, 0)
        activities = dict.fromkeys(ACTIVITIES, 0)
        for state, activity in agents:
            states[state] = states.get(state, 0) + 1
            key = activity or "none"
            activities[key] = activities.get(key, 0) + 1
        for state, n in states.items():
            self._agents.labels(state).set(n)
        for activity, n in activities.items():
            self._activity.labels(activity).set(n)


class _HotCounters(Collector):
    """The counters bumped for every keystroke and output frame, as plain numbers read
    when the registry is collected. A ``prometheus_client`` counter takes a lock and
    makes four Python calls per ``inc``: five of them per keystroke were a tenth of the
    Python calls a keystroke makes in the embedded ``run``. The relay is single-threaded
    (one event loop), so plain additions are exact."""

    def __init__(self) -> None:
        #: As ``prometheus_client`` counters have it: their ``_created`` sample.
        self.created = time.time()
        self.output_in = 0
        self.output_out = 0
        self.messages: dict[tuple[str, str], int] = {}
        self.audit: dict[tuple[str, str], int] = {}

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(f"{PREFIX}_output_received_bytes",
                                  "Output bytes received from sidecars.", value=self.output_in,
                                  created=self.created)
        yield CounterMetricFamily(f"{PREFIX}_output_sent_bytes",
                                  "Bytes of output frames written to dashboards (wire size).",
                                  value=self.output_out, created=self.created)
        messages = CounterMetricFamily(f"{PREFIX}_messages_received",
                                       "Messages received, by endpoint and type.",
                                       labels=["endpoint", "type"])
        for (endpoint, type_), n in sorted(self.messages.items()):
            messages.add_metric([endpoint, str(type_)], n, created=self.created)
        yield messages
        audit = CounterMetricFamily(f"{PREFIX}_audit_records",
                                    "Audit records written, by action and outcome.",
                                    labels=["action", "outcome"])
        for (action, outcome), n in sorted(self.audit.items()):
            audit.add_metric([action, outcome], n, created=self.created)
        yield audit
