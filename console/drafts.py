"""What a supervisor typed in a decision dialog, kept per case and per kind of decision.

A dialog closed with escape, a decision refused (409) or lost to the network: the text
stays here until that case's decision is recorded, and the dialog opens with it again,
together with the reason the last attempt failed.
"""

from __future__ import annotations

__all__ = ["Drafts"]


class Drafts:
    """``(case id, kind) -> {field: text}``, and the last failure per case and kind."""

    def __init__(self) -> None:
        self._values: dict[tuple[int, str], dict[str, str]] = {}
        self._errors: dict[tuple[int, str], str] = {}

    def get(self, case_id: int, kind: str) -> dict[str, str]:
        """What was typed for ``kind`` on ``case_id`` (a copy; empty if nothing)."""
        return dict(self._values.get((case_id, kind), {}))

    def keep(self, case_id: int, kind: str, values: dict[str, str]) -> None:
        """Remember ``values`` (fields left empty are dropped; nothing typed: no draft)."""
        typed = {name: text for name, text in values.items() if text.strip()}
        if typed:
            self._values[(case_id, kind)] = typed
        else:
            self._values.pop((case_id, kind), None)

    def failed(self, case_id: int, kind: str, error: str) -> None:
        """The last attempt to send ``kind`` on ``case_id`` failed with ``error``."""
        self._errors[(case_id, kind)] = error

    def error(self, case_id: int, kind: str) -> str | None:
        return self._errors.get((case_id, kind))

    def kinds(self, case_id: int) -> list[str]:
        """The kinds with a draft for ``case_id``."""
        return [kind for (case, kind) in self._values if case == case_id]

    def clear(self, case_id: int) -> None:
        """A decision on ``case_id`` was recorded: its drafts and errors are done with."""
        for store in (self._values, self._errors):
            for key in [k for k in store if k[0] == case_id]:
                del store[key]

    def __bool__(self) -> bool:
        return bool(self._values or self._errors)

    def __len__(self) -> int:
        return len(self._values)
