"""Triage by the active policies (`hitl policy push`), reloaded without a restart.

At most once per ``refresh_seconds`` an ingest compares the active versions' ids and
hashes (one small query) with what it has loaded, and compiles what changed (compiled
policies are kept by content hash). An escalation in a domain no active policy governs
goes to the fallback triage (:class:`BuiltinTriage` unless told otherwise).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from backend.policies import FallbackSpec, Policy, PolicyError, Verdict, compile_policy
from backend.services.triage import DEFAULT_SLA, HOLD, BuiltinTriage, Triage, TriageOutcome
from store.contracts import ActionSpec, EscalationCreate, PolicyRef, Severity
from store.db import read_session
from store.policies import active_policy_signature, active_policy_versions

__all__ = ["PolicyTriage"]

log = logging.getLogger(__name__)

#: What non-escalated outcomes store as severity (nobody is shown it).
_PLACEHOLDER_SEVERITY: Severity = "low"


@dataclass(frozen=True)
class _Active:
    policy: Policy
    version: str
    hash: str


@dataclass(frozen=True)
class _Snapshot:
    signature: tuple[tuple[int, str], ...] = ()
    by_domain: dict[str, _Active] = field(default_factory=dict)
    catch_all: _Active | None = None


def _fallback_action(spec: FallbackSpec, escalation: EscalationCreate) -> ActionSpec:
    if isinstance(spec, ActionSpec):
        return spec
    if spec == "approve":
        return escalation.proposed_action
    if spec == "hold":
        return HOLD
    return escalation.fallback_action or HOLD


class PolicyTriage:
    """The active policies from the database; ``fallback`` for domains none governs."""

    def __init__(
        self,
        engine: Engine,
        *,
        fallback: Triage | None = None,
        refresh_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._fallback = fallback or BuiltinTriage()
        self._refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._snapshot = _Snapshot()
        self._checked = -math.inf
        self._loaded = False
        self._compiled: dict[str, Policy] = {}

    # -- reload ------------------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> None:
        """Reload if the active versions changed (at most once per ``refresh_seconds``)."""
        if not force and self._monotonic() - self._checked < self._refresh_seconds:
            return
        # Until the first load, every caller waits for it; afterwards a reload in progress
        # never holds up an ingest, which goes on with the versions it has.
        if not self._lock.acquire(blocking=not self._loaded):
            return
        try:
            if not force and self._monotonic() - self._checked < self._refresh_seconds:
                return
            self._reload()
        finally:
            self._lock.release()

    def _reload(self) -> None:
        try:
            with read_session(self._engine) as session:
                signature = active_policy_signature(session=session)
                rows = (
                    active_policy_versions(session=session)
                    if signature != self._snapshot.signature
                    else None
                )
        except SQLAlchemyError:
            log.exception("could not read the active policies; keeping the loaded ones")
            self._checked = self._monotonic()
            return
        self._checked = self._monotonic()
        self._loaded = True
        if rows is None:
            return
        by_domain: dict[str, _Active] = {}
        catch_all: _Active | None = None
        for row in rows:
            policy = self._compiled.get(row.content_hash)
            if policy is None:
                try:
                    policy = compile_policy(row.source, source=f"{row.policy_id} v{row.version}")
                except PolicyError as exc:
                    # Its domains fall back to the builtin triage, which escalates everything.
                    log.error(
                        "active policy %s v%s does not compile: %s", row.policy_id, row.version, exc
                    )
                    continue
                self._compiled[row.content_hash] = policy
            active = _Active(policy, str(row.version), row.content_hash)
            if not row.domains:
                catch_all = active
            for domain in row.domains:
                by_domain[domain] = active
        self._snapshot = _Snapshot(signature, by_domain, catch_all)
        log.info(
            "active policies: %s",
            ", ".join(f"{r.policy_id} v{r.version}" for r in rows) or "none (builtin triage)",
        )

    # -- the Triage seam ---------------------------------------------------------------

    def redact_fields(self, domain: str) -> tuple[str, ...]:
        """The ``[redaction] fields`` of the policy governing ``domain``."""
        self.refresh()
        snapshot = self._snapshot
        active = snapshot.by_domain.get(domain, snapshot.catch_all)
        if active is None:
            return self._fallback.redact_fields(domain)
        return active.policy.redact_fields

    def evaluate(self, escalation: EscalationCreate) -> TriageOutcome:
        self.refresh()
        snapshot = self._snapshot
        active = snapshot.by_domain.get(escalation.domain, snapshot.catch_all)
        if active is None:
            return self._fallback.evaluate(escalation)
        verdict = active.policy.evaluate(active.policy.signals(escalation))
        if verdict.error is not None:
            log.warning(
                "policy %s v%s: rule %r failed (%s); escalated as a precaution",
                active.policy.id,
                active.version,
                verdict.rule,
                verdict.error,
            )
        return self._outcome(escalation, active, verdict)

    @staticmethod
    def _outcome(escalation: EscalationCreate, active: _Active, verdict: Verdict) -> TriageOutcome:
        ref = PolicyRef(
            id=active.policy.id, version=active.version, hash=active.hash, rule=verdict.rule
        )
        if verdict.outcome != "escalate":
            return TriageOutcome(
                severity=_PLACEHOLDER_SEVERITY,
                group=escalation.domain,
                sla=timedelta(0),
                fallback=_fallback_action("agent", escalation),
                policy=ref,
                outcome=verdict.outcome,
                reason=verdict.description,
                missing_inputs=verdict.missing_inputs,
            )
        severity = verdict.severity or "high"
        return TriageOutcome(
            severity=severity,
            group=verdict.group or escalation.domain,
            sla=verdict.sla or DEFAULT_SLA[severity],
            fallback=_fallback_action(verdict.fallback, escalation),
            policy=ref,
            reason=verdict.description,
            require_rationale=verdict.require_rationale,
        )
