"""Rich styles taken from the current Textual theme, for cells and rendered text.

Queue rows and ``Static`` renderables are Rich objects, which cannot refer to
``$error`` and friends; this resolves those theme variables once per render. Meaning never
rests on color alone: every colored marker also carries text (see :mod:`.markers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

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
    #: Section borders (focused or not) and titles.
    border: Style
    border_focus: Style
    title: Style
    #: Redacted values (typed placeholders): italic, in the secondary color.
    redacted: Style

    def severity(self, severity: str) -> Style:
        """CRIT in reverse error color, HIGH in error color, MED warning, LOW muted."""
        if severity == "critical":
            return self.error + Style(reverse=True)
        return {"high": self.error, "medium": self.warning}.get(severity, self.muted)

    def sla(self, state: str) -> Style:
        """Breached in error color, soon in warning color, otherwise plain."""
        return {"breached": self.error, "soon": self.warning}.get(state, Style())

    @classmethod
    def of(cls, app: App[Any]) -> Palette:
        """The palette of the app's current theme (worked out once per theme)."""
        variables = app.theme_variables or app.get_css_variables()
        cached = _CACHE.get(app)
        if cached is not None and cached[0] is variables:
            return cached[1]
        palette = cls._of(variables)
        _CACHE[app] = (variables, palette)
        return palette

    @classmethod
    def _of(cls, variables: dict[str, str]) -> Palette:
        background = Color.parse(variables["background"])

        def style(name: str, alpha: float = 1.0, **kwargs: Any) -> Style:
            color = background + Color.parse(variables[name]).multiply_alpha(alpha)
            return Style(color=color.hex6, **kwargs)

        return cls(
            error=style("error", bold=True),
            warning=style("warning"),
            success=style("success"),
            accent=style("accent"),
            primary=style("primary"),
            muted=style("foreground-muted"),
            border=style("panel-lighten-2"),
            border_focus=style("primary", 0.6),
            title=style("text-accent", bold=True),
            redacted=style("secondary", italic=True),
        )


#: app -> (the theme variables its palette was made from, the palette).
_CACHE: WeakKeyDictionary[App[Any], tuple[dict[str, str], Palette]] = WeakKeyDictionary()
