"""SVG snapshots of the case view's history, related cases, folded breadcrumbs and redacted
values, at 80x24 and 140x40, and with NO_COLOR (the selection and the placeholders must
read without color)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from console.screens.case import CaseScreen
from console.widgets.case_view import CaseView
from store.samples import sample_escalation
from tests.conftest import BackendEnv
from tests.console.conftest import (
    ConsoleEnv,
    case_extras,
    make_console_env,
    wait_until,
)
from tests.console.test_app_case_view import _ask_and_answer, _with_pii

SIZES = {"80x24": (80, 24), "140x40": (140, 40)}
sizes = pytest.mark.parametrize("size", list(SIZES.values()), ids=list(SIZES))
Snap = Callable[..., bool]


@pytest.fixture
def pii_env(backend_env: BackendEnv) -> Iterator[tuple[ConsoleEnv, int]]:
    """12 sample cases, then a refund with personal data that shares its trace with one
    case and its e-mail with another, claimed, asked about and answered."""
    # A fixed redaction key: the placeholders, hence the pictures, are the same every run.
    backend_env.state.redaction_key = b"hitl-test-redaction-key"
    env = make_console_env(backend_env, 12)
    case_id = backend_env.submit(_with_pii(1, trace="trace-pii")).id
    backend_env.clock.advance(60)
    backend_env.submit(
        sample_escalation(1).model_copy(update={"idempotency_key": "tr-1", "trace_id": "trace-pii"})
    )
    backend_env.clock.advance(60)
    backend_env.submit(_with_pii(2, trace="trace-other"))
    asyncio.run(_ask_and_answer(env, case_id))
    yield env, case_id
    env.http.close()


def _open(case_id: int, *keys: str, at: str | None = None) -> Callable[[Pilot[Any]], Any]:
    """Open the case, press ``keys``, then show section ``at`` at the top (if given)."""

    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await wait_until(pilot, lambda: app.screen.query("#queue"))
        app.open_case(case_id, callback=lambda _: None)  # type: ignore[attr-defined]
        await wait_until(pilot, lambda: isinstance(app.screen, CaseScreen))
        screen = app.screen
        assert isinstance(screen, CaseScreen)
        await wait_until(pilot, lambda: screen.case is not None)
        await case_extras(pilot, screen)
        await pilot.press(*keys)
        await pilot.pause()
        view = screen.query_one(CaseView)
        if at is not None:
            view.scroll_to(y=view.section_line(at) - 2, animate=False)
        view.refresh()
        await pilot.pause()

    return run


@sizes
def test_snapshot_case_history(
    snap_compare: Snap, pii_env: tuple[ConsoleEnv, int], size: tuple[int, int]
) -> None:
    """h: the history timeline (created, claimed, question, answer) and related cases."""
    env, case_id = pii_env
    assert snap_compare(env.app(), terminal_size=size, run_before=_open(case_id, "h"))


@sizes
def test_snapshot_case_related_selected(
    snap_compare: Snap, pii_env: tuple[ConsoleEnv, int], size: tuple[int, int]
) -> None:
    """l then j: related cases by agent, trace and redacted value, the second selected."""
    env, case_id = pii_env
    assert snap_compare(env.app(), terminal_size=size, run_before=_open(case_id, "l", "j"))


@sizes
def test_snapshot_case_redacted_and_folded(
    snap_compare: Snap, pii_env: tuple[ConsoleEnv, int], size: tuple[int, int]
) -> None:
    """A case whose agent sent personal data: typed placeholders only, set apart (the
    evidence); b folds reasoning and context to one line each."""
    env, case_id = pii_env
    run = _open(case_id, "b", at="reasoning")
    assert snap_compare(env.app(), terminal_size=size, run_before=run)


def test_snapshot_case_related_no_color(
    snap_compare: Snap, pii_env: tuple[ConsoleEnv, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """NO_COLOR: the selected related case reads by its ▶ and reverse video, placeholders
    by their ⟦kind:…⟧ brackets and italics."""
    monkeypatch.setenv("NO_COLOR", "1")
    env, case_id = pii_env
    assert snap_compare(env.app(), terminal_size=(80, 24), run_before=_open(case_id, "l", "j"))
