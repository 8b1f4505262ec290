"""Routing at ingest: which group gets a case, who is suggested, and backpressure.

The policy names a group. If nobody there is on call, the case goes to the group's
fallback group, and on along the chain of fallbacks (each group at most once, at most
:data:`MAX_HOPS` hops) to the first group with someone on call. If no group on the chain
has anyone on call, the case stays in the policy's group, where its members will find it
when they are back (and the SLA sweeper applies the fallback if nobody comes in time).

The suggested assignee is the least-loaded on-call member of the group the case lands in:
load is the number of open cases suggested to them, a counter the database keeps
(``supervisors.open_load``), so choosing costs one small query at any number of cases.
Ties go to the member created first.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from store.contracts import Severity
from store.groups import GroupRouting, group_routing, on_call_members

__all__ = ["BACKPRESSURED_SEVERITIES", "MAX_HOPS", "Route", "over_limit", "route"]

#: How many fallback hops routing follows before it gives up.
MAX_HOPS = 8
#: Severities that take their fallback at once in a full group; high and critical queue.
BACKPRESSURED_SEVERITIES: frozenset[Severity] = frozenset({"low", "medium"})


@dataclass(frozen=True)
class Route:
    group: str
    #: The policy's group, when the case went elsewhere.
    routed_from: str | None
    #: Why, in words (empty when the case simply went to the policy's group).
    note: str
    assignee_id: int | None
    assignee: str | None
    #: The groups tried, in order.
    tried: tuple[str, ...]


def route(*, session: Session, group: str) -> Route:
    tried: list[str] = []
    name: str | None = group
    while name is not None and name not in tried and len(tried) <= MAX_HOPS:
        tried.append(name)
        members = on_call_members(session=session, group=name, limit=1)
        if members:
            pick = members[0]
            if name == group:
                return Route(group, None, "", pick.id, pick.name, tuple(tried))
            note = f"nobody on call in {', '.join(tried[:-1])}; routed to fallback group {name}"
            return Route(name, group, note, pick.id, pick.name, tuple(tried))
        config = group_routing(session=session, name=name)
        name = config.fallback_group if config is not None else None
    if name is None:
        end = "no fallback group" if len(tried) == 1 else "end of the fallback chain"
    elif name in tried:
        end = f"the fallback chain loops back to {name}"
    else:
        end = f"gave up after {MAX_HOPS} fallback hops"
    note = f"nobody on call in {', '.join(tried)} ({end}); kept in {group}"
    return Route(group, None, note, None, None, tuple(tried))


def over_limit(*, session: Session, group: str, severity: Severity) -> GroupRouting | None:
    """The group's routing row if a new case of ``severity`` must take its fallback now:
    the group has an open-case limit and that many open cases. Locks the group's row so
    concurrent ingests count each other (PostgreSQL; SQLite writers are serialized)."""
    if severity not in BACKPRESSURED_SEVERITIES:
        return None
    config = group_routing(session=session, name=group, lock=True)
    if config is None or config.open_case_limit is None:
        return None
    return config if config.open_cases >= config.open_case_limit else None
