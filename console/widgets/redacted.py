"""Redacted values as the supervisor sees them: typed placeholders, set apart.

The backend stores personal data only as ``⟦kind:hash⟧`` placeholders (the same value
gives the same placeholder in every case); the console never has anything else to show.
:func:`marked` makes a text whose placeholders stand out (italic, in the theme's
secondary color); the ``⟦ ⟧`` brackets and the kind keep them apart without color too.
"""

from __future__ import annotations

import re

from rich.style import Style
from rich.text import Text

__all__ = ["PLACEHOLDER", "REDACTED_STYLE", "mark", "marked"]

#: A typed placeholder as the backend's redaction writes it.
PLACEHOLDER = re.compile(r"⟦[a-z]+:[0-9a-f]{12}⟧")
#: Added to the placeholder's own style (the palette's secondary color is added on top).
REDACTED_STYLE = Style(italic=True)


def mark(text: Text, style: Style | str = REDACTED_STYLE) -> Text:
    """Style the placeholders in ``text`` in place (and return it)."""
    if "⟦" in text.plain:
        text.highlight_regex(PLACEHOLDER, style)
    return text


def marked(value: str, style: Style | str = "", *, redacted: Style | str = REDACTED_STYLE) -> Text:
    """``Text(value, style)`` with its placeholders set apart."""
    return mark(Text(value, style=style), redacted)
