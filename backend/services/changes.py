"""The supervisor's live queue: long-poll for changes to cases in their groups.

Long-poll rather than server-sent events: each answer carries a cursor (an audit sequence
number), so a console that was offline, restarted, or behind a proxy that cuts streams
resumes exactly where it stopped with one plain GET, and the client needs nothing beyond
httpx. A change in this process wakes the poll at once (``CaseNotifier.wait_any``);
changes by other backend processes are seen by the once-a-second re-check.
"""

from __future__ import annotations

import asyncio
import time

from starlette.concurrency import run_in_threadpool

from backend.services.cases import visible_groups
from backend.state import AppState
from store.changes import changes_after, head_seq
from store.contracts import QueueChanges
from store.db import read_session
from store.tables import Supervisor

__all__ = ["queue_changes", "wait_for_changes"]


def queue_changes(
    state: AppState, *, supervisor: Supervisor, after: int | None, limit: int
) -> QueueChanges:
    with read_session(state.engine) as session:
        if after is None:  # a new follower starts from now
            return QueueChanges(cursor=head_seq(session=session), changes=[], more=False)
        changes, cursor, more = changes_after(
            session=session, after=after, limit=limit, groups=visible_groups(supervisor)
        )
    return QueueChanges(cursor=cursor, changes=changes, more=more)


#: A waiting long-poll looks again this often even if nothing woke it (another process
#: may have written: wake-ups reach only this process's followers).
RECHECK_SECONDS = 1.0


async def wait_for_changes(
    state: AppState, *, supervisor: Supervisor, after: int | None, limit: int, wait: float
) -> QueueChanges:
    """Return as soon as there are changes after ``after``, or after ``wait`` seconds."""
    wait = min(max(wait, 0.0), state.settings.max_wait_seconds)
    deadline = time.monotonic() + wait
    while True:
        result = await run_in_threadpool(
            queue_changes, state, supervisor=supervisor, after=after, limit=limit
        )
        remaining = deadline - time.monotonic()
        if result.changes or after is None or remaining <= 0:
            return result
        # Changes outside the reader's groups move the cursor without waking them.
        after = result.cursor
        await state.notifier.wait_any(min(RECHECK_SECONDS, remaining))
        await asyncio.sleep(0)
