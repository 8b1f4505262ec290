"""Render the console's screens from demo data into ``screenshots/*.svg`` (`make screenshots`).

Runs the real backend in-process (``httpx.ASGITransport``) on a throwaway SQLite file with a
frozen clock, seeds the demo escalations, and saves one SVG per screen with
``App.save_screenshot``. Look at them as PNG with ``rsvg-convert -w 1400 x.svg -o x.png``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
# Quitting each console cancels its pending long-poll of /v1/queue/changes, which the
# access log records as a 500: noise here, not a failure.
logging.getLogger("hitl.access").setLevel(logging.CRITICAL)

from textual.pilot import Pilot  # noqa: E402

from backend.app import create_app  # noqa: E402
from backend.services.admin import add_agent, add_supervisor  # noqa: E402
from backend.settings import BackendSettings  # noqa: E402
from console.screens.approve_dialog import ApproveDialog  # noqa: E402
from console.screens.case import CaseScreen  # noqa: E402
from console.screens.confirm_dialog import ConfirmDialog  # noqa: E402
from console.screens.defer_dialog import DeferDialog  # noqa: E402
from console.screens.edit_args_dialog import EditArgsDialog  # noqa: E402
from console.screens.override_dialog import OverrideDialog  # noqa: E402
from console.screens.question_dialog import QuestionDialog  # noqa: E402
from console.screens.reassign_dialog import ReassignDialog  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.samples import sample_escalation  # noqa: E402
from tests.conftest import DOMAINS, BackendEnv, FrozenClock  # noqa: E402
from tests.console.conftest import (  # noqa: E402
    ConsoleEnv,
    case_extras,
    loaded_queue,
    make_console_env,
    open_case,
    wait_until,
)
from tests.console.test_app_case_view import _ask_and_answer, _with_pii  # noqa: E402

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
    state.redaction_key = b"hitl-screenshots"  # the same placeholders every time
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


async def _pii_case(pilot: Pilot[Any], case_id: int, *keys: str) -> None:
    """Open the refund whose agent sent personal data, then press ``keys``."""
    app = pilot.app
    await loaded_queue(pilot)
    app.open_case(case_id, callback=lambda _: None)  # type: ignore[attr-defined]
    await wait_until(pilot, lambda: isinstance(app.screen, CaseScreen))
    screen = app.screen
    assert isinstance(screen, CaseScreen)
    await wait_until(pilot, lambda: screen.case is not None)
    await case_extras(pilot, screen)
    await pilot.press(*keys)


def _blink_off(pilot: Pilot[Any]) -> None:
    from textual.widgets import Input, TextArea

    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    for area in pilot.app.screen.query(TextArea):
        area.cursor_blink = False


async def _shoot(
    env: ConsoleEnv, name: str, steps: Callable[[Pilot[Any]], Awaitable[None]]
) -> Path:
    app = env.app(demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await steps(pilot)
        _blink_off(pilot)
        await pilot.pause()
        path = Path(app.save_screenshot(f"{name}.svg", str(OUT)))
        await pilot.press("ctrl+q")
    return path


async def _main(env: ConsoleEnv, pii: int) -> list[Path]:
    async def queue(pilot: Pilot[Any]) -> None:
        await loaded_queue(pilot)

    async def case(pilot: Pilot[Any]) -> None:
        await _pii_case(pilot, pii)

    async def history(pilot: Pilot[Any]) -> None:
        await _pii_case(pilot, pii, "h")

    async def related(pilot: Pilot[Any]) -> None:
        await _pii_case(pilot, pii, "l", "j")

    async def approve(pilot: Pilot[Any]) -> None:
        await _refund(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ApproveDialog))

    async def override(pilot: Pilot[Any]) -> None:
        await _refund(pilot)
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, OverrideDialog))

    async def edit(pilot: Pilot[Any]) -> None:
        await _refund(pilot)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, EditArgsDialog))

    async def question(pilot: Pilot[Any]) -> None:
        await _refund(pilot)
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, QuestionDialog))
        await pilot.press(*"Which order is this about?")

    async def reassign(pilot: Pilot[Any]) -> None:
        await _refund(pilot)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReassignDialog))
        dialog = pilot.app.screen
        await wait_until(pilot, lambda: dialog.groups is not None)  # type: ignore[attr-defined]

    async def defer(pilot: Pilot[Any]) -> None:
        await open_case(pilot, row=0)  # the most urgent case: a critical one
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, DeferDialog))
        await pilot.press(*"30", "enter", *"the owner is paged", "enter")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))

    return [
        await _shoot(env, "queue", queue),
        await _shoot(env, "case", case),
        await _shoot(env, "case-history", history),
        await _shoot(env, "case-related", related),
        await _shoot(env, "approve", approve),
        await _shoot(env, "override", override),
        await _shoot(env, "edit", edit),
        await _shoot(env, "question", question),
        await _shoot(env, "reassign", reassign),
        await _shoot(env, "confirm-critical", defer),
    ]


def _seed_related(env: ConsoleEnv) -> int:
    """A refund whose agent sent personal data (stored as placeholders), another case of
    its trace, another with the same customer; claimed, asked about and answered. Returns
    the refund's id."""
    backend = env.backend
    case_id = backend.submit(_with_pii(1, trace="4bf92f3577b34da6a3ce929d0e0e4736")).id
    backend.clock.advance(60)
    backend.submit(
        sample_escalation(1).model_copy(
            update={"idempotency_key": "shot-trace", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}
        )
    )
    backend.clock.advance(60)
    backend.submit(_with_pii(2, trace="00f067aa0ba902b7a3ce929d0e0e4736"))
    asyncio.run(_ask_and_answer(env, case_id))
    backend.add_supervisor("bob", ["payments"])
    return case_id


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hitl-screenshots-") as tmp:
        backend = _backend(Path(tmp))
        env = make_console_env(backend, 40, then=300)
        try:
            pii = _seed_related(env)
            paths = asyncio.run(_main(env, pii))
        finally:
            env.http.close()
            backend.state.engine.dispose()
    for path in paths:
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
