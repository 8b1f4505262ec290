"""Prometheus metrics: counters the services bump, and the queue depth, read at scrape time.

One registry per app (not prometheus-client's global one), so several apps in one process
(tests, the demo) never share or collide. With ``hitl serve --workers N`` each worker
counts its own requests: scrape a single-worker backend, or sum per instance.

- ``hitl_escalations_total{outcome,domain,severity}``: escalations ingested (outcome is
  ``escalate`` for a queued case, otherwise what the policy settled it as);
- ``hitl_time_to_decision_seconds{domain,severity}``: case created -> decision recorded;
- ``hitl_sla_breaches_total{domain,severity}``: cases decided after their due time, or
  that reached it undecided (the sweeper then applied their fallback);
- ``hitl_fallbacks_total{domain,severity,reason}``: fallback actions applied, by the SLA
  sweeper (``sla``) or at ingest because the group was full (``backpressure``);
- ``hitl_decisions_total{supervisor,action}``: decisions per supervisor;
- ``hitl_queue_depth{group,severity}``: open cases, one grouped COUNT over the open-case
  index per scrape at most every few seconds, never on a request path;
- ``hitl_access_denied_total{principal,reason}``: requests refused before any work, for an
  ``agent`` or ``supervisor`` token: ``missing_token``, ``invalid_token`` (401) or
  ``role`` (403, a role below the route's). A burst of ``invalid_token`` is someone
  guessing tokens; of ``role``, a client offering viewers what they cannot do;
- ``hitl_webhook_deliveries_total{result}``: webhook attempts by outcome: ``delivered``,
  ``failed`` (to be retried), ``dead`` (given up: a dead letter), ``cancelled``;
- ``hitl_webhook_retries_total``: webhook attempts after a delivery's first;
- ``hitl_webhook_outbox{state}``: deliveries ``pending`` and ``dead`` (the dead letters
  waiting for ``hitl admin redeliver``), counted like the queue depth;
- ``hitl_group_open_cases{group}`` and ``hitl_group_open_case_limit{group}``: each group's
  open cases and its limit (groups with one), read from the counters the database keeps
  in ``groups`` (one small table, whatever the number of cases).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from store.contracts import SEVERITIES
from store.outbox import outbox_counts
from store.tables import Case, Group

__all__ = [
    "TIME_TO_DECISION_BUCKETS",
    "GroupCollector",
    "Metrics",
    "OutboxCollector",
    "QueueDepthCollector",
]

#: Seconds: 30 s to 2 days, around the SLAs (15 min critical ... 24 h low).
TIME_TO_DECISION_BUCKETS = (
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    28800.0,
    86400.0,
    172800.0,
)
_QUEUE_DEPTH = "hitl_queue_depth"
_QUEUE_DEPTH_HELP = "Open cases waiting for a decision, by group and severity"


class Metrics:
    """The app's metrics. Methods are cheap (a dict lookup and a lock); call them after
    the transaction commits, so a rollback is never counted."""

    def __init__(self, engine: Engine | None = None, *, queue_depth_ttl: float = 5.0) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.escalations = Counter(
            "hitl_escalations",
            "Escalations ingested, by outcome, domain and severity",
            ["outcome", "domain", "severity"],
            registry=r,
        )
        self.time_to_decision = Histogram(
            "hitl_time_to_decision_seconds",
            "Time from a case's creation to its decision",
            ["domain", "severity"],
            buckets=TIME_TO_DECISION_BUCKETS,
            registry=r,
        )
        self.sla_breaches = Counter(
            "hitl_sla_breaches",
            "Cases decided after their due time, or that reached it undecided",
            ["domain", "severity"],
            registry=r,
        )
        self.fallbacks = Counter(
            "hitl_fallbacks",
            "Fallback actions applied: nobody decided in time (sla) or the group was full "
            "(backpressure)",
            ["domain", "severity", "reason"],
            registry=r,
        )
        self.decisions = Counter(
            "hitl_decisions",
            "Decisions recorded, by supervisor and action",
            ["supervisor", "action"],
            registry=r,
        )
        self.access_denied = Counter(
            "hitl_access_denied",
            "Requests refused for their token or role, by principal kind and reason",
            ["principal", "reason"],
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "hitl_webhook_deliveries",
            "Webhook delivery attempts by result: delivered, failed (to be retried), dead "
            "(given up), cancelled (webhook removed)",
            ["result"],
            registry=r,
        )
        self.webhook_retries = Counter(
            "hitl_webhook_retries",
            "Webhook delivery attempts after a delivery's first",
            registry=r,
        )
        if engine is not None:
            r.register(QueueDepthCollector(engine, ttl=queue_depth_ttl))
            r.register(OutboxCollector(engine, ttl=queue_depth_ttl))
            r.register(GroupCollector(engine))

    def escalation_ingested(self, *, outcome: str, domain: str, severity: str | None) -> None:
        self.escalations.labels(outcome, domain, severity or "none").inc()

    def decision_recorded(
        self,
        *,
        supervisor: str,
        action: str,
        domain: str,
        severity: str,
        created_at: datetime,
        due_at: datetime,
        decided_at: datetime,
    ) -> None:
        self.decisions.labels(supervisor, action).inc()
        waited = max(0.0, (decided_at - created_at).total_seconds())
        self.time_to_decision.labels(domain, severity).observe(waited)
        if decided_at > due_at:
            self.sla_breaches.labels(domain, severity).inc()

    def denied(self, *, principal: str, reason: str) -> None:
        """A request refused by authentication (401) or its role (403)."""
        self.access_denied.labels(principal, reason).inc()

    def fallback_fired(self, *, domain: str, severity: str, reason: str) -> None:
        """The system applied a case's fallback action (reason: sla or backpressure)."""
        self.fallbacks.labels(domain, severity, reason).inc()

    def webhook_delivered(self, result: str) -> None:
        """An attempt's outcome was recorded: delivered, failed, dead or cancelled."""
        self.webhook_deliveries.labels(result).inc()


class OutboxCollector:
    """``hitl_webhook_outbox{state}``: pending and dead deliveries, cached ``ttl`` s."""

    NAME = "hitl_webhook_outbox"
    HELP = "Webhook deliveries waiting (pending) and given up (dead)"

    def __init__(
        self, engine: Engine, *, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._at = -math.inf
        self._counts: dict[str, int] = {}

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(self.NAME, self.HELP, labels=["state"])]

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            if self._clock() - self._at >= self._ttl:
                with self._engine.connect() as conn:
                    self._counts = outbox_counts(conn)
                self._at = self._clock()
            counts = self._counts
        family = GaugeMetricFamily(self.NAME, self.HELP, labels=["state"])
        for state, count in sorted(counts.items()):
            family.add_metric([state], count)
        yield family


class QueueDepthCollector:
    """``hitl_queue_depth``: a grouped COUNT over ``ix_cases_queue_group``, cached ``ttl`` s.

    Label sets seen once keep reporting (0 when their queue empties) so a drained queue
    reads as 0 rather than as a missing series.
    """

    def __init__(
        self, engine: Engine, *, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._at = -math.inf
        self._depth: dict[tuple[str, str], int] = {}
        # (status, group_name, severity_rank) is a prefix of ix_cases_queue_group: the
        # count walks that index only.
        self._statement = (
            select(col(Case.group_name), col(Case.severity_rank), func.count())
            .where(col(Case.status) == "open")
            .group_by(col(Case.group_name), col(Case.severity_rank))
        )

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(_QUEUE_DEPTH, _QUEUE_DEPTH_HELP, labels=["group", "severity"])]

    def collect(self) -> Iterable[Metric]:
        with self._lock:  # concurrent scrapes share one query
            if self._clock() - self._at >= self._ttl:
                depth = dict.fromkeys(self._depth, 0)
                with self._engine.connect() as conn:
                    for group, rank, count in conn.execute(self._statement):
                        depth[(group, SEVERITIES[rank])] = count
                self._depth = depth
                self._at = self._clock()
            depth = self._depth
        family = GaugeMetricFamily(_QUEUE_DEPTH, _QUEUE_DEPTH_HELP, labels=["group", "severity"])
        for (group, severity), count in sorted(depth.items()):
            family.add_metric([group, severity], count)
        yield family


_GROUP_OPEN = "hitl_group_open_cases"
_GROUP_OPEN_HELP = "Open cases in the group (the count backpressure compares to its limit)"
_GROUP_LIMIT = "hitl_group_open_case_limit"
_GROUP_LIMIT_HELP = "The group's open-case limit (groups that have one)"


class GroupCollector:
    """Each group's open cases and limit: one read of the small ``groups`` table, whose
    counters the database keeps; cheap at any number of cases."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._statement = select(
            col(Group.name), col(Group.open_cases), col(Group.open_case_limit)
        ).order_by(col(Group.name))

    def describe(self) -> Iterable[Metric]:
        return [
            GaugeMetricFamily(_GROUP_OPEN, _GROUP_OPEN_HELP, labels=["group"]),
            GaugeMetricFamily(_GROUP_LIMIT, _GROUP_LIMIT_HELP, labels=["group"]),
        ]

    def collect(self) -> Iterable[Metric]:
        opened = GaugeMetricFamily(_GROUP_OPEN, _GROUP_OPEN_HELP, labels=["group"])
        limits = GaugeMetricFamily(_GROUP_LIMIT, _GROUP_LIMIT_HELP, labels=["group"])
        with self._engine.connect() as conn:
            for name, open_cases, limit in conn.execute(self._statement):
                opened.add_metric([name], open_cases)
                if limit is not None:
                    limits.add_metric([name], limit)
        yield opened
        yield limits
