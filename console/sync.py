"""Send the outbox's signed decisions to the backend, in the order they were made.

Each entry ends in one of three states, and nothing is dropped silently:

- ``sent``: the backend recorded it (also when an earlier attempt got through but its
  answer was lost: the case then carries this very decision id);
- ``conflict``: the backend refused it because the world moved on (decided elsewhere,
  claim taken by someone else, case changed since it was shown, SLA fallback fired); the
  backend's explanation is kept and shown per case;
- ``rejected``: the backend refused it as invalid (bad or unknown key, stale signature,
  case not visible); kept with the reason.

When the backend cannot be reached the sync stops and the rest stays ``pending``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from console.client import HitlClient
from console.errors import ApiError, BackendUnreachable, Conflict
from console.local_store import Outbox, OutboxEntry, OutboxState

__all__ = ["SyncReport", "sync_outbox"]


@dataclass
class SyncReport:
    sent: list[OutboxEntry] = field(default_factory=list)
    conflicts: list[tuple[OutboxEntry, str]] = field(default_factory=list)
    rejected: list[tuple[OutboxEntry, str]] = field(default_factory=list)
    unreachable: str | None = None
    remaining: int = 0

    @property
    def complete(self) -> bool:
        return self.unreachable is None and self.remaining == 0

    def summary(self) -> str:
        parts = [f"{len(self.sent)} sent"]
        if self.conflicts:
            parts.append(f"{len(self.conflicts)} in conflict")
        if self.rejected:
            parts.append(f"{len(self.rejected)} refused")
        if self.remaining:
            parts.append(f"{self.remaining} still waiting ({self.unreachable or 'not sent'})")
        return ", ".join(parts)


def _problem(exc: ApiError) -> dict[str, object]:
    return {"status": exc.status, "title": exc.title, "detail": exc.detail, **exc.body}


async def _already_recorded(client: HitlClient, entry: OutboxEntry) -> dict[str, object] | None:
    """The decision, if the backend already holds this very one (an answer lost earlier)."""
    try:
        case = await client.case(entry.case_id)
    except ApiError:
        return None
    decisions = [case.decision] if case.decision is not None else []
    for decision in decisions:
        if decision.decision_id == entry.decision_id:
            return dict(decision.model_dump(mode="json"))
    return None


async def sync_outbox(
    outbox: Outbox,
    client: HitlClient,
    *,
    progress: Callable[[int, int, OutboxEntry, OutboxState | None], None] | None = None,
) -> SyncReport:
    """Send every pending entry in order; see the module docstring for the outcomes."""
    report = SyncReport()
    pending = outbox.pending()
    for n, entry in enumerate(pending):
        state: OutboxState | None
        try:
            decision = await client.decide(entry.case_id, entry.envelope)
        except BackendUnreachable as exc:
            report.unreachable = str(exc)
            report.remaining = len(pending) - n
            outbox.attempted(entry.seq)
            if progress:
                progress(n + 1, len(pending), entry, None)
            return report
        except Conflict as exc:
            recorded = await _already_recorded(client, entry)
            if recorded is not None:
                outbox.settle(entry.seq, "sent", recorded)
                report.sent.append(entry)
                state = "sent"
            else:
                outbox.settle(entry.seq, "conflict", _problem(exc))
                report.conflicts.append((entry, str(exc)))
                state = "conflict"
        except ApiError as exc:
            outbox.settle(entry.seq, "rejected", _problem(exc))
            report.rejected.append((entry, str(exc)))
            state = "rejected"
        else:
            outbox.settle(entry.seq, "sent", decision.model_dump(mode="json"))
            report.sent.append(entry)
            state = "sent"
        if progress:
            progress(n + 1, len(pending), entry, state)
    outbox.mark_synced()
    return report
