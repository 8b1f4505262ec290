"""``hitl policy ...``: check policy files, push (store + activate) them, read old versions.

Server-side like ``hitl admin``: ``push``, ``activate``, ``list`` and ``show`` talk to the
database (``--database-url`` or ``HITL_DATABASE_URL``). ``check`` and ``signals`` need
nothing but the file. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from store.tables import PolicyVersion

__all__ = ["policy_app"]

policy_app = typer.Typer(
    help="Escalation policies as code: check, push, list, show.", no_args_is_help=True
)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL (env HITL_DATABASE_URL); "
        "default: a SQLite file under the user data dir",
    ),
]
FilesArg = Annotated[
    list[Path] | None, typer.Argument(help="Policy files (TOML)", show_default=False)
]
ExamplesOpt = Annotated[
    bool, typer.Option("--examples", help="The example policies shipped for the demo domains")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _files(files: list[Path] | None, examples: bool) -> list[Path]:
    from backend.policies import example_policies

    chosen = list(files or []) + (example_policies() if examples else [])
    if not chosen:
        typer.echo("name at least one policy file (or --examples)", err=True)
        raise typer.Exit(2)
    return chosen


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        typer.echo(f"{path}: cannot read: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
    except UnicodeDecodeError as exc:
        typer.echo(f"{path}:1: not UTF-8 text", err=True)
        raise typer.Exit(1) from exc


@policy_app.command("check")
def check(files: FilesArg = None, examples: ExamplesOpt = False) -> None:
    """Check policy files: errors as FILE:LINE: message; exit 1 if any."""
    from backend.policies import check_policy, compile_policy

    failed = False
    for path in _files(files, examples):
        problems = check_policy(_read(path), source=str(path))
        for problem in problems:
            typer.echo(str(problem), err=True)
        if problems:
            failed = True
            continue
        policy = compile_policy(_read(path), source=str(path))
        scope = ", ".join(policy.domains) or "every domain"
        typer.echo(f"{path}: ok: policy {policy.id!r} ({scope}), {len(policy.rule_names)} rules")
    if failed:
        raise typer.Exit(1)


@policy_app.command("signals")
def signals() -> None:
    """List the fields a rule's `when` can read."""
    from backend.policies import SIGNALS

    width = max(len(s.name) for s in SIGNALS)
    for s in SIGNALS:
        typer.echo(f"{s.name:<{width}}  {s.cel_type:<16} {s.description}")


def _engine(database_url: str | None):  # type: ignore[no-untyped-def]
    from store.db import make_engine

    return make_engine(database_url)


def _author(author: str | None) -> str:
    if author:
        return author
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return os.environ.get("USER", "unknown")


def _summary(row: PolicyVersion) -> dict[str, object]:
    return {
        "policy_id": row.policy_id,
        "version": row.version,
        "content_hash": row.content_hash,
        "filename": row.filename,
        "domains": row.domains,
        "author": row.author,
        "created_at": row.created_at.isoformat(),
        "active": row.active,
        "activated_at": row.activated_at.isoformat() if row.activated_at else None,
    }


@policy_app.command("push")
def push(
    files: FilesArg = None,
    examples: ExamplesOpt = False,
    author: Annotated[
        str | None, typer.Option(help="Who pushes (recorded); default: your user name")
    ] = None,
    database_url: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check, store and activate policy files. Takes effect without a restart."""
    from backend.policies import PolicyError, check_policy
    from backend.services.policies import PolicyConflict, push_policy

    paths = _files(files, examples)
    engine = _engine(database_url)
    who = _author(author)
    failed = False
    for path in paths:
        text = _read(path)
        problems = check_policy(text, source=str(path))
        for problem in problems:
            typer.echo(str(problem), err=True)
        if problems:
            failed = True
            continue
        try:
            result = push_policy(engine, source=text, filename=path.name, author=who)
        except PolicyError as exc:
            for problem in exc.problems:
                typer.echo(str(problem), err=True)
            failed = True
            continue
        except PolicyConflict as exc:
            typer.echo(f"{path}: not activated: {exc}", err=True)
            failed = True
            continue
        row = result.version
        if as_json:
            typer.echo(json.dumps({**_summary(row), "created": result.created}))
            continue
        what = "stored" if result.created else "already stored as"
        if not result.activated:
            state = "already active"
        elif result.previous is not None:
            state = f"active (was v{result.previous.version})"
        else:
            state = "active"
        typer.echo(
            f"{path}: {what} {row.policy_id} v{row.version} ({row.content_hash[:19]}…), {state}"
        )
    engine.dispose()
    if failed:
        raise typer.Exit(1)


@policy_app.command("activate")
def activate(
    policy_id: Annotated[str, typer.Argument(help="The policy's id")],
    version: Annotated[int, typer.Argument(help="A stored version (see `hitl policy list`)")],
    author: Annotated[str | None, typer.Option(help="Who activates (recorded)")] = None,
    database_url: DbOpt = None,
) -> None:
    """Make a stored version active again (roll back or forward)."""
    from backend.services.policies import PolicyConflict, activate_policy

    engine = _engine(database_url)
    try:
        result = activate_policy(
            engine, policy_id=policy_id, version=version, author=_author(author)
        )
    except LookupError as exc:
        typer.echo(str(exc).strip("'\""), err=True)
        raise typer.Exit(1) from exc
    except PolicyConflict as exc:
        typer.echo(f"not activated: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    was = f" (was v{result.previous.version})" if result.previous else ""
    state = "active" + was if result.activated else "already active"
    typer.echo(f"{policy_id} v{version}: {state}")


@policy_app.command("list")
def list_versions(
    policy_id: Annotated[str | None, typer.Argument(help="Only this policy")] = None,
    database_url: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every stored version, newest first; * marks the active ones."""
    from backend.services.policies import list_policy_versions

    engine = _engine(database_url)
    rows = list_policy_versions(engine, policy_id=policy_id)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps([_summary(r) for r in rows]))
        return
    if not rows:
        typer.echo("no policy pushed yet: every escalation gets the builtin triage")
        return
    typer.echo(f"  {'policy':<16} {'version':>7}  {'hash':<21} {'author':<12} {'pushed (UTC)':<16}")
    for r in rows:
        mark = "*" if r.active else " "
        typer.echo(
            f"{mark} {r.policy_id:<16} {r.version:>7}  {r.content_hash[:19] + '…':<21} "
            f"{r.author[:12]:<12} {r.created_at:%Y-%m-%d %H:%M}"
        )


@policy_app.command("show")
def show(
    policy_id: Annotated[str, typer.Argument(help="The policy's id")],
    version: Annotated[int | None, typer.Argument(help="Default: the active version")] = None,
    database_url: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a stored version's file, verbatim (its details go to stderr)."""
    from backend.services.policies import get_policy_version

    engine = _engine(database_url)
    row = get_policy_version(engine, policy_id=policy_id, version=version)
    engine.dispose()
    if row is None:
        which = f"version {version}" if version is not None else "active version"
        typer.echo(f"policy {policy_id!r} has no {which} (see `hitl policy list`)", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps({**_summary(row), "source": row.source}))
        return
    state = "active" if row.active else "inactive"
    typer.echo(
        f"# {row.policy_id} v{row.version} ({state}), {row.content_hash}, pushed by "
        f"{row.author} at {row.created_at:%Y-%m-%d %H:%M:%S} UTC from {row.filename}",
        err=True,
    )
    typer.echo(row.source, nl=False)
