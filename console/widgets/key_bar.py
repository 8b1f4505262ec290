"""The bottom line: the keys that work here, as one line of text.

Textual's ``Footer`` is a widget per key, recomposed (mounted and styled anew) whenever the
bindings change, which is every time a screen is shown; that made opening a case
noticeably slower. This bar is a single widget: it works out the line from the screen's
active bindings, repaints only when the line changed, and turns a click on a key into that
key press (the mouse stays optional).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

__all__ = ["KeyBar"]


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-description-foreground;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        & > .key-bar--key { color: $footer-key-foreground; text-style: bold; }
        & > .key-bar--disabled { text-style: dim; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key", "key-bar--disabled"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        #: (key display, description, key to press, enabled) as shown, left to right.
        self.entries: tuple[tuple[str, str, str, bool], ...] = ()
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        seen: set[str] = set()
        entries: list[tuple[str, str, str, bool]] = []
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            key = binding.key.split(",")[0].strip()
            entries.append((self.app.get_key_display(binding), binding.description, key, enabled))
        if tuple(entries) != self.entries:
            self.entries = tuple(entries)
            self.refresh()

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        disabled = self.get_component_rich_style("key-bar--disabled")
        line = Text(no_wrap=True, overflow="ellipsis")
        self._spans = []
        for display, description, key, enabled in self.entries:
            start = line.cell_len
            line.append(f" {display}", key_style + disabled if not enabled else key_style)
            line.append(f" {description} ", disabled if not enabled else "")
            self._spans.append((start, line.cell_len, key))
        return line

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
