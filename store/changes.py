"""The queue's change feed: cases changed after an audit sequence number.

Every change to a case appends an audit event in the change's own transaction, and the
audit head serializes appenders, so events commit in ``seq`` order: a reader that has seen
everything up to ``seq`` N has missed nothing before it. The feed is a primary-key range
scan of ``audit_events`` joined to ``cases`` by primary key: its cost follows the number of
changes since the cursor, not the number of cases.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from store.contracts import QueueChange
from store.tables import AuditEvent, AuditHead, Case

__all__ = ["changes_after", "head_seq"]


def head_seq(*, session: Session) -> int:
    row = session.exec(select(AuditHead.seq).where(col(AuditHead.id) == 1)).first()  # type: ignore[call-overload]
    return int(row[0]) if row else 0


def changes_after(
    *, session: Session, after: int, limit: int, groups: list[str] | None
) -> tuple[list[QueueChange], int, bool]:
    """Changes to cases in ``groups`` (None: every group) with ``seq > after``.

    Returns the changes, the cursor to continue from, and whether more are waiting.
    """
    head = head_seq(session=session)  # read first: nothing committed later is skipped
    if after >= head:
        return [], head, False
    query = (
        select(
            col(AuditEvent.seq),
            col(AuditEvent.case_id),
            col(AuditEvent.kind),
            col(Case.status),
            col(Case.group_name),
        )
        .join(Case, col(Case.id) == col(AuditEvent.case_id))
        .where(col(AuditEvent.seq) > after, col(AuditEvent.seq) <= head)
        .order_by(col(AuditEvent.seq))
        .limit(limit + 1)
    )
    if groups is not None:
        query = query.where(col(Case.group_name).in_(groups))
    rows = session.exec(query).all()  # type: ignore[call-overload]
    more = len(rows) > limit
    rows = rows[:limit]
    changes = [
        QueueChange(seq=seq, case_id=case_id, kind=kind, status=status, group=group)
        for seq, case_id, kind, status, group in rows
    ]
    cursor = changes[-1].seq if more else head
    return changes, cursor, more
