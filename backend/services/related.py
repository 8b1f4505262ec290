"""Related cases: what else the same agent, trace or redacted value touched."""

from __future__ import annotations

from backend.services.cases import load_visible, visible_groups
from backend.state import AppState
from store.contracts import RelatedCases
from store.db import read_session
from store.related import related_groups
from store.tables import Supervisor

__all__ = ["related_cases"]


def related_cases(
    state: AppState, *, supervisor: Supervisor, case_id: int, limit: int
) -> RelatedCases:
    """Cases sharing the agent, the trace id or a redacted value with ``case_id``, newest
    first, only in the supervisor's groups; 404 when the case itself is outside them."""
    with read_session(state.engine) as session:
        case = load_visible(session, supervisor, case_id)
        groups = related_groups(session, case=case, groups=visible_groups(supervisor), limit=limit)
    return RelatedCases(case_id=case_id, groups=groups)
