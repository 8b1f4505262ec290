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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

from console.client import HitlClient
from console.errors import ApiError, BackendUnreachable, Conflict
from console.local_store import Outbox, OutboxEntry, OutboxState

__all__ = ["SyncReport", "describe", "sync_outbox"]

T = TypeVar("T")


class Runner(Protocol):
    """Runs a blocking function somewhere (the local files' thread) and awaits it."""

    def __call__(self, fn: Callable[[], T], /) -> Awaitable[T]: ...


async def _inline(fn: Callable[[], T]) -> T:
    return fn()


@dataclass
class SyncReport:
    sent: list[OutboxEntry] = field(default_factory=list)
    conflicts: list[tuple[OutboxEntry, str]] = field(default_factory=list)
    rejected: list[tuple[OutboxEntry, str]] = field(default_factory=list)
    #: What happened to each entry, in the order sent: (entry, state, what the user is told).
    outcomes: list[tuple[OutboxEntry, OutboxState, str]] = field(default_factory=list)
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


def describe(state: OutboxState, result: dict[str, Any] | None) -> str:
    """What happened to a sent decision, in the supervisor's words (from the backend's
    answer: the decision recorded, or its RFC 9457 problem)."""
    result = result or {}
    if state == "sent":
        if result.get("post_hoc"):
            return (
                "recorded after the SLA fallback had fired: the fallback stands, your "
                "decision is flagged for review"
            )
        return "recorded"
    title = str(result.get("title") or "")
    detail = str(result.get("detail") or "")
    status_now = result.get("status_now")
    if state == "rejected":
        why = "refused"
    elif title == "Fallback applied" or status_now == "fallback":
        why = "the SLA fallback fired first"
    elif title == "Already decided":
        why = "decided elsewhere"
    elif title in ("Stale claim token", "Claimed by someone else"):
        who = result.get("claimed_by")
        why = f"your claim expired; {who} claimed it" if who else "your claim expired"
    elif title == "Case changed":
        why = "the case changed since you saw it"
    elif title == "Waiting on the agent":
        why = "the case is waiting on the agent's answer"
    else:
        why = title.lower() or "conflict"
    return f"{why}: {detail}" if detail else why


def _problem(exc: ApiError) -> dict[str, object]:
    return {"status": exc.status, "title": exc.title, "detail": exc.detail, **exc.body}


async def _already_recorded(client: HitlClient, entry: OutboxEntry) -> dict[str, object] | None:
    """The decision, if the backend already holds this very one (an answer lost earlier).

    For a backend that does not say so in its 409 (``recorded``): look at the case."""
    try:
        case = await client.case(entry.case_id)
    except ApiError:
        return None
    for decision in (case.decision, case.post_hoc_decision):
        if decision is not None and decision.decision_id == entry.decision_id:
            return dict(decision.model_dump(mode="json"))
    return None


async def sync_outbox(
    outbox: Outbox,
    client: HitlClient,
    *,
    progress: Callable[[int, int, OutboxEntry, OutboxState | None], None] | None = None,
    run: Runner = _inline,
) -> SyncReport:
    """Send every pending entry in order; see the module docstring for the outcomes.

    ``run`` runs each outbox read or write (blocking SQLite): in the console, in the local
    files' own thread, so the event loop never waits on the disk."""
    report = SyncReport()
    pending = await run(outbox.pending)
    for n, entry in enumerate(pending):
        state: OutboxState | None
        result: dict[str, Any]
        try:
            # HitlClient's own decide: straight to the backend, never through an
            # offline-aware subclass's (which would save it in the outbox again).
            decision = await HitlClient.decide(client, entry.case_id, entry.envelope)
        except BackendUnreachable as exc:
            report.unreachable = str(exc)
            report.remaining = len(pending) - n
            await run(partial(outbox.attempted, entry.seq))
            if progress:
                progress(n + 1, len(pending), entry, None)
            return report
        except Conflict as exc:
            recorded: dict[str, object] | None = None
            if exc.body.get("recorded") is True:
                # This very decision is on record: an earlier attempt got through but its
                # answer was lost (any kind of decision; the backend says so in its 409).
                recorded = {**_problem(exc), "recorded": True}
            elif "recorded" not in exc.body:
                recorded = await _already_recorded(client, entry)
            if recorded is not None:
                state, result = "sent", recorded
            else:
                state, result = "conflict", _problem(exc)
        except ApiError as exc:
            state, result = "rejected", _problem(exc)
        else:
            state, result = "sent", decision.model_dump(mode="json")
        await run(partial(outbox.settle, entry.seq, state, result))
        text = describe(state, result)
        report.outcomes.append((entry, state, text))
        if state == "sent":
            report.sent.append(entry)
        elif state == "conflict":
            report.conflicts.append((entry, text))
        else:
            report.rejected.append((entry, text))
        if progress:
            progress(n + 1, len(pending), entry, state)
    await run(outbox.mark_synced)
    return report
