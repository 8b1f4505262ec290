"""Confidence drawn as bars: reported vs calibrated, the interval, and weighted factors.

Bars use distinct glyphs (``█`` filled, ``░`` empty, ``[━●━]`` for the interval) and carry
their numbers, so they read the same with ``NO_COLOR``.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from console.widgets.palette import Palette
from store.contracts import Confidence

__all__ = ["confidence_bars"]

LABEL = 12
FACTOR_NAME_MAX = 22
WEIGHT_CELLS = 5


def _score_style(score: float, palette: Palette) -> Style:
    if score < 0.5:
        return palette.error
    if score < 0.75:
        return palette.warning
    return palette.success


def _bar(score: float, cells: int, palette: Palette) -> Text:
    filled = round(score * cells)
    text = Text("█" * filled, style=_score_style(score, palette))
    text.append("░" * (cells - filled), style=palette.muted)
    return text


def _interval(low: float, high: float, point: float, cells: int, palette: Palette) -> Text:
    inside = [low <= (i + 0.5) / cells <= high for i in range(cells)]
    if not any(inside):  # a very narrow interval still shows where it is
        inside[min(cells - 1, int(low * cells))] = True
    first, last = inside.index(True), cells - 1 - inside[::-1].index(True)
    marker = min(cells - 1, int(point * cells))
    text = Text()
    for i in range(cells):
        if i == marker:
            text.append("●", style=palette.accent)
        elif i == first:
            text.append("[", style=palette.accent)
        elif i == last:
            text.append("]", style=palette.accent)
        elif inside[i]:
            text.append("━", style=palette.accent)
        else:
            text.append("·", style=palette.muted)
    return text


def confidence_bars(confidence: Confidence, width: int, palette: Palette) -> Text:
    """The whole breakdown for a given width (at least ~40 cells)."""
    bar = max(10, min(40, width - LABEL - 14))
    out = Text()

    def line(label: str, body: Text, value: str) -> None:
        out.append(f"{label:<{LABEL}}", style=palette.muted)
        out.append_text(body)
        out.append(f"  {value}\n")

    line("reported", _bar(confidence.reported, bar, palette), f"{confidence.reported:.2f}")
    if confidence.calibrated is not None:
        line(
            "calibrated",
            _bar(confidence.calibrated, bar, palette),
            f"{confidence.calibrated:.2f}",
        )
    else:
        out.append(f"{'calibrated':<{LABEL}}", style=palette.muted)
        out.append("not calibrated: the queue uses the reported score\n")
    if confidence.interval is not None:
        low, high = confidence.interval
        point = confidence.effective
        line("interval", _interval(low, high, point, bar, palette), f"{low:.2f} to {high:.2f}")
    if confidence.factors:
        name_w = min(FACTOR_NAME_MAX, max(len(f.name) for f in confidence.factors))
        fbar = max(8, min(24, width - name_w - 4 - 6 - 2 - WEIGHT_CELLS - 6))
        out.append("factors", style=palette.muted)
        out.append(" " * (2 + name_w + 2 + fbar + 2 - len("factors")))
        out.append("score weight\n", style=palette.muted)
        for factor in confidence.factors:
            name = factor.name if len(factor.name) <= name_w else factor.name[: name_w - 1] + "…"
            out.append(f"  {name:<{name_w}}  ")
            out.append_text(_bar(factor.score, fbar, palette))
            out.append(f"  {factor.score:.2f}  ")
            filled = round(factor.weight * WEIGHT_CELLS)
            out.append("■" * filled, style=palette.primary)
            out.append("□" * (WEIGHT_CELLS - filled), style=palette.muted)
            out.append(f" {factor.weight:.2f}\n")
    out.rstrip()
    return out
