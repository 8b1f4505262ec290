"""Render the console's screens from demo data into ``screenshots/*.svg`` (`make screenshots`).

Runs the real backend in-process (``httpx.ASGITransport``) on a throwaway SQLite file with a
frozen clock, seeds the demo escalations, and saves one SVG per screen with
``App.save_screenshot``. Look at them as PNG with ``rsvg-convert -w 1400 x.svg -o x.png``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

from textual.pilot import Pilot  # noqa: E402

from backend.app import create_app  # noqa: E402
from backend.services.admin import add_agent, add_supervisor  # noqa: E402
from backend.settings import BackendSettings  # noqa: E402
from console.screens.approve_dialog import ApproveDialog  # noqa: E402
from console.screens.override_dialog import OverrideDialog  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from tests.conftest import DOMAINS, BackendEnv, FrozenClock  # noqa: E402
from tests.console.conftest import (  # noqa: E402
    ConsoleEnv,
    loaded_queue,
    make_console_env,
    open_case,
    wait_until,
)

OUT = ROOT / "screenshots"
SIZE = (120, 36)


def _backend(tmp: Path) -> BackendEnv:
    db_url = f"sqlite:///{tmp / 'screenshots.db'}"
    upgrade(db_url)
    clock = FrozenClock()
    app = create_app(
        BackendSettings(database_url=db_url, server_key=tmp / "server.pem"), clock=clock
    )
    state = app.state.hitl
    agent_id, agent_token = add_agent(state.engine, name="refund-bot", domains=DOMAINS)
    sup_id, sup_token = add_supervisor(
        state.engine, name="alice", role="supervisor", groups=DOMAINS
    )
    return BackendEnv(app, state, clock, db_url, agent_token, agent_id, sup_token, sup_id)


async def _refund(pilot: Pilot[Any]) -> None:
    """Open the first refund in the queue (it has an amount, risk flags, every section)."""
    table = await loaded_queue(pilot)
    row = next(n for n, item in enumerate(table.items.values()) if item.domain == "payments")
    await open_case(pilot, row=row)


async def _shoot(
    env: ConsoleEnv, name: str, steps: Callable[[Pilot[Any]], Awaitable[None]]
) -> Path:
    app = env.app(demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await steps(pilot)
        await pilot.pause()
        path = Path(app.save_screenshot(f"{name}.svg", str(OUT)))
        await pilot.press("ctrl+q")
    return path


async def _main(env: ConsoleEnv) -> list[Path]:
    async def queue(pilot: Pilot[Any]) -> None:
        await loaded_queue(pilot)

    async def approve(pilot: Pilot[Any]) -> None:
        await _refund(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ApproveDialog))

    async def override(pilot: Pilot[Any]) -> None:
        await _refund(pilot)
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, OverrideDialog))

    return [
        await _shoot(env, "queue", queue),
        await _shoot(env, "case", _refund),
        await _shoot(env, "approve", approve),
        await _shoot(env, "override", override),
    ]


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hitl-screenshots-") as tmp:
        backend = _backend(Path(tmp))
        env = make_console_env(backend, 40, then=300)
        try:
            paths = asyncio.run(_main(env))
        finally:
            env.http.close()
            backend.state.engine.dispose()
    for path in paths:
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
