"""Rich styles taken from the current Textual theme, for cells and rendered text.

DataTable cells and ``Static`` renderables are Rich objects, which cannot refer to
``$error`` and friends; this resolves those theme variables once per render. Meaning never
rests on color alone: every colored marker also carries text (see :mod:`.markers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.style import Style
from textual.app import App
from textual.color import Color

__all__ = ["Palette"]


@dataclass(frozen=True)
class Palette:
    error: Style
    warning: Style
    success: Style
    accent: Style
    primary: Style
    muted: Style

    @classmethod
    def of(cls, app: App[Any]) -> Palette:
        variables = app.theme_variables or app.get_css_variables()
        background = Color.parse(variables["background"])

        def style(name: str, **kwargs: Any) -> Style:
            color = background + Color.parse(variables[name])
            return Style(color=color.hex6, **kwargs)

        return cls(
            error=style("error", bold=True),
            warning=style("warning"),
            success=style("success"),
            accent=style("accent"),
            primary=style("primary"),
            muted=style("foreground-muted"),
        )
