"""What the supervisor narrowed the queue to, and the order it is in (no Textual here).

Every filter runs in the backend (``GET /v1/queue`` parameters), so a filtered queue is
complete and pages like the full one at any queue size; :meth:`QueueFilters.sort_key`
places a case the change feed brought into the rows already loaded, in the same order
the backend uses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from store.contracts import SEVERITY_RANK, QueueItem, Severity

__all__ = ["SEVERITY_CYCLE", "SORTS", "SORT_LABEL", "QueueFilters", "Sort"]

Sort = Literal["priority", "sla", "age"]
SORTS: tuple[Sort, ...] = ("priority", "sla", "age")
#: How the status line and the header say the order.
SORT_LABEL: dict[str, str] = {
    "priority": "most urgent first",
    "sla": "least SLA time left first",
    "age": "oldest first",
}
#: ``s`` steps through these (None: every severity).
SEVERITY_CYCLE: tuple[Severity | None, ...] = (None, "critical", "high", "medium", "low")
CLAIMED_LABEL = {True: "claimed", False: "unclaimed"}
SortKey = tuple[Any, ...]


@dataclass(frozen=True)
class QueueFilters:
    mine: bool = False
    group: str | None = None
    severity: Severity | None = None
    domain: str | None = None
    #: True: only claimed cases; False: only unclaimed ones; None: both.
    claimed: bool | None = None
    #: Text the summaries must contain (``/``).
    q: str = ""
    sort: Sort = "priority"

    @property
    def active(self) -> bool:
        """Whether any filter narrows the queue (the order is not a filter)."""
        return self.cleared() != self

    def cleared(self) -> QueueFilters:
        """No filters, the same order."""
        return QueueFilters(sort=self.sort)

    def with_(self, **changes: Any) -> QueueFilters:
        return replace(self, **changes)

    def next_severity(self) -> QueueFilters:
        n = SEVERITY_CYCLE.index(self.severity)
        return replace(self, severity=SEVERITY_CYCLE[(n + 1) % len(SEVERITY_CYCLE)])

    def next_claimed(self) -> QueueFilters:
        after: dict[bool | None, bool | None] = {None: False, False: True, True: None}
        return replace(self, claimed=after[self.claimed])

    def next_sort(self) -> QueueFilters:
        return replace(self, sort=SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)])

    def params(self) -> dict[str, Any]:
        """Keyword arguments for :meth:`console.client.HitlClient.queue`."""
        return {
            "mine": self.mine,
            "group": self.group,
            "severity": self.severity,
            "domain": self.domain,
            "claimed": self.claimed,
            "q": self.q or None,
            "sort": self.sort,
        }

    def labels(self) -> list[str]:
        """The filters in force, as the header shows them: ``["mine", "HIGH", ...]``."""
        out: list[str] = []
        if self.mine:
            out.append("mine")
        if self.group:
            out.append(f"group {self.group}")
        if self.severity:
            out.append(self.severity.upper())
        if self.domain:
            out.append(f"domain {self.domain}")
        if self.claimed is not None:
            out.append(CLAIMED_LABEL[self.claimed])
        if self.q:
            out.append(f"/{self.q}")
        return out

    def sort_key(self, item: QueueItem) -> SortKey:
        """Where ``item`` goes in this order (the backend's keyset order)."""
        if self.sort == "sla":
            return (_ts(item.due_at), item.id)
        if self.sort == "age":
            return (_ts(item.created_at), item.id)
        return (SEVERITY_RANK[item.severity], _ts(item.due_at), item.id)


def _ts(moment: datetime) -> float:
    return moment.timestamp()
