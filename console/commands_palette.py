"""The command palette (ctrl+p): every key binding of the screen it is opened on, by name.

One command per binding, generated from the same ``BINDINGS`` as the ``?`` help, so the
palette, the help and the keymap can never disagree. A command runs the binding's action
on the widget or screen that owns the binding, exactly as the key would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.actions import parse as parse_action
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget

if TYPE_CHECKING:
    from console.app import HitlApp

__all__ = ["BindingCommand", "HitlCommands", "binding_commands"]


@dataclass(frozen=True)
class BindingCommand:
    """A binding that can run on the current screen."""

    title: str  # "Case: Approve"
    help: str  # "a · Sign and approve the proposed action"
    binding: Binding
    node: DOMNode


def binding_commands(app: HitlApp, screen: Screen[Any]) -> list[BindingCommand]:
    """Every action bound on ``screen`` (its own first) and in the whole app, one command per
    action with all its keys, in the order of the help."""
    found: dict[tuple[int, str], tuple[str, Binding, DOMNode, list[str]]] = {}
    for section, classes in (*app.binding_sources()[1:], app.binding_sources()[0]):
        for cls in classes:
            node = _owner(app, screen, cls)
            if node is None:
                continue
            for binding in cls.BINDINGS:
                if not isinstance(binding, Binding) or binding.action == "command_palette":
                    continue
                if not _available(node, binding):
                    continue  # e.g. "Next related" while no related case is selected
                key = (id(node), binding.action)
                if key not in found:
                    found[key] = (section, binding, node, [])
                found[key][3].append(app.keys_for(binding))
    commands = []
    for section, binding, node, keys in found.values():
        shown = ", ".join(keys)
        commands.append(
            BindingCommand(
                f"{section}: {binding.description}",
                f"{shown} · {binding.tooltip}" if binding.tooltip else shown,
                binding,
                node,
            )
        )
    return commands


def _available(node: DOMNode, binding: Binding) -> bool:
    """Whether the binding's action can run now (its owner's ``check_action``)."""
    _, name, params = parse_action(binding.action)
    return node.check_action(name, params) is not False


def _owner(app: HitlApp, screen: Screen[Any], cls: type[DOMNode]) -> DOMNode | None:
    """The node a binding of ``cls`` belongs to: the app, ``screen`` or a widget on it."""
    if isinstance(app, cls):
        return app
    if isinstance(screen, cls):
        return screen
    if issubclass(cls, Widget):
        found = screen.query(cls)
        return found.first() if found else None
    return None


class HitlCommands(Provider):
    """Palette commands for the screen the palette was opened from."""

    @property
    def _app(self) -> HitlApp:
        return cast("HitlApp", self.app)

    def _commands(self) -> list[BindingCommand]:
        return binding_commands(self._app, self.screen)

    def _runner(self, command: BindingCommand) -> Callable[[], Any]:
        return partial(self._app.run_action, command.binding.action, command.node)

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, self._runner(command), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = max(matcher.match(command.title), matcher.match(command.help) * 0.5)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.title),
                    self._runner(command),
                    text=command.title,
                    help=command.help,
                )
