"""Air-gapped review: a bundle is one SQLite file with a group's cases and an outbox.

``hitl pull --out FILE`` fills it from the backend (the cases arrive redacted, as the
backend stores them); ``hitl console --bundle FILE`` reviews it with no backend at all and
signs decisions into its outbox; ``hitl push FILE`` sends them, and the backend checks
each signature and applies the same conflict rules as for a live decision.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.markup import escape

from console.client import HitlClient
from console.config import ConsoleSettings
from console.errors import ConsoleError
from console.local_store import Cache, LocalStoreError, Outbox
from console.sync import SyncReport, sync_outbox
from store.contracts import QueueItem

__all__ = [
    "check_bundle",
    "check_new_bundle",
    "pull_bundle",
    "push_bundle",
    "read_bundle_info",
    "run_pull",
    "run_push",
]


async def pull_bundle(
    client: HitlClient,
    out: Path,
    *,
    group: str | None,
    limit: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write up to ``limit`` open cases of ``group`` (all your groups when None) to ``out``.

    The file appears complete or not at all. Returns the number of cases written.
    """
    check_new_bundle(out)
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    try:
        me = await client.me()
        cache = Cache(partial)
        Outbox(partial).close()  # the (empty) outbox travels in the same file
        items: list[QueueItem] = []
        cursor: str | None = None
        while len(items) < limit:
            page = await client.queue(
                cursor=cursor, limit=min(200, limit - len(items)), group=group
            )
            items.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        for n, item in enumerate(items, 1):
            cache.save_case(await client.case(item.id))
            if progress:
                progress(n)
        cache.save_queue(items)
        cache.save_me(me)
        cache.save_info(
            {
                "url": client.base_url,
                "group": group or "",
                "supervisor": me.name,
                "pulled_at": datetime.now(UTC).isoformat(),
            }
        )
        cache.close()
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return len(items)


def check_new_bundle(out: Path) -> None:
    if out.exists():
        raise LocalStoreError(f"{out} already exists; pull into a new file")


def check_bundle(path: Path) -> None:
    if not path.is_file():
        raise LocalStoreError(f"no bundle at {path}")


def read_bundle_info(path: Path) -> dict[str, str]:
    check_bundle(path)
    cache = Cache(path)
    try:
        return cache.load_info()
    finally:
        cache.close()


async def push_bundle(client: HitlClient, path: Path) -> SyncReport:
    """Send the bundle's signed decisions; each entry records the backend's answer."""
    check_bundle(path)
    outbox = Outbox(path)
    try:
        return await sync_outbox(outbox, client)
    finally:
        outbox.close()


# -- the commands ------------------------------------------------------------------------


async def run_pull(settings: ConsoleSettings, out: Path, *, group: str | None, limit: int) -> int:
    """``hitl pull``: exit status 0 when the bundle was written."""
    from rich.progress import Progress

    from console.auth import err, require_token

    try:
        check_new_bundle(out)
        token = await asyncio.to_thread(require_token, settings)
        async with HitlClient(settings.url, token) as client:
            with Progress(console=err, transient=True) as bar:
                task = bar.add_task("pulling cases", total=None)
                count = await pull_bundle(
                    client,
                    out,
                    group=group,
                    limit=limit,
                    progress=lambda n: bar.update(task, completed=n),
                )
    except ConsoleError as exc:
        err.print(f"[red]pull failed:[/] {escape(str(exc))}")
        return 1
    err.print(
        f"[green]Pulled[/] {count} cases into {escape(str(out))} (mode 0600). Review them with "
        f"`hitl console --bundle {escape(str(out))}`, then `hitl push {escape(str(out))}`."
    )
    return 0


async def run_push(settings: ConsoleSettings, path: Path) -> int:
    """``hitl push``: 0 when every decision was recorded, 1 otherwise (each one listed)."""
    from console.auth import err, require_token

    try:
        check_bundle(path)
        token = await asyncio.to_thread(require_token, settings)
        async with HitlClient(settings.url, token) as client:
            report = await push_bundle(client, path)
    except ConsoleError as exc:
        err.print(f"[red]push failed:[/] {escape(str(exc))}")
        return 1
    for entry in report.sent:
        err.print(f"  sent      case #{entry.case_id}: {entry.action}")
    for entry, why in report.conflicts:
        err.print(f"  [yellow]conflict[/]  case #{entry.case_id}: {entry.action}: {escape(why)}")
    for entry, why in report.rejected:
        err.print(f"  [red]refused[/]   case #{entry.case_id}: {entry.action}: {escape(why)}")
    err.print(f"push: {report.summary()}")
    return 0 if report.complete and not report.conflicts and not report.rejected else 1
