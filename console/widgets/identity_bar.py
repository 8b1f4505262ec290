"""The top line: who is signed in, whether they are on call, to which backend, and a DEMO
banner in demo mode."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from store.contracts import SupervisorMe

__all__ = ["IdentityBar"]


class IdentityBar(Horizontal):
    DEFAULT_CSS = """
    IdentityBar {
        height: 1;
        background: $panel;
        color: $foreground;
    }
    IdentityBar > Label { height: 1; padding: 0 1; text-wrap: nowrap; }
    IdentityBar > #title { text-style: bold; color: $text-accent; }
    IdentityBar > #who { width: 1fr; text-overflow: ellipsis; }
    IdentityBar > #url { color: $foreground-muted; }
    IdentityBar > #availability { color: $text-success; }
    IdentityBar > #availability.-away { color: $text-warning; text-style: bold; }
    IdentityBar > #demo {
        background: $warning;
        color: $background;
        text-style: bold;
    }
    """

    def __init__(self, me: SupervisorMe, url: str, *, demo: bool = False) -> None:
        super().__init__()
        self.me = me
        self.url = url
        self.demo = demo

    def compose(self) -> ComposeResult:
        if self.demo:
            yield Label("DEMO", id="demo")
        else:
            yield Label("hitl", id="title")
        groups = ", ".join(self.me.groups) or "no groups"
        yield Label(f"{self.me.name} ({self.me.role}) · {groups}", id="who")
        yield Label(_availability(self.me), id="availability", classes=_away(self.me))
        yield Label(self.url, id="url")

    def show(self, me: SupervisorMe) -> None:
        """Show ``me`` again (their availability changed)."""
        self.me = me
        label = self.query_one("#availability", Label)
        label.update(_availability(me))
        label.set_class(me.availability == "away", "-away")


def _availability(me: SupervisorMe) -> str:
    return "● on call" if me.availability == "on_call" else "◌ AWAY"


def _away(me: SupervisorMe) -> str:
    return "-away" if me.availability == "away" else ""
