"""The ``hitl`` entry point (``python -m console`` too).

``hitl console`` (with at most ``--url``) starts the console without importing the command
line machinery: typer builds pydantic adapters for every parameter, which took longer than
the rest of the console's start-up. Everything else, ``hitl console --help`` included, goes
to the typer commands in :mod:`console.cli`.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def _console_args(args: list[str]) -> dict[str, str] | None:
    """``--url U`` / ``--url=U`` or nothing; ``None`` for anything else (typer handles it)."""
    options: dict[str, str] = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg.startswith("--url="):
            options["url"] = arg.removeprefix("--url=")
        elif arg == "--url" and rest and not rest[0].startswith("-"):
            options["url"] = rest.pop(0)
        else:
            return None
        if not options["url"]:
            return None
    return options


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["console"] and (options := _console_args(args[1:])) is not None:
        from console.app import run_console
        from console.config import load_settings

        raise SystemExit(run_console(load_settings(**options)))
    from console.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
