"""Server-side commands: ``serve``, ``db upgrade``, ``admin ...``, ``policy ...``.

Registered into the ``hitl`` CLI through the ``hitl.commands`` entry point, and runnable
alone as ``python -m backend``. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer

from backend.policy_cli import policy_app

__all__ = ["app", "register"]

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL (env HITL_DATABASE_URL); "
        "default: a SQLite file under the user data dir",
    ),
]


class RoleOpt(enum.StrEnum):
    viewer = "viewer"
    supervisor = "supervisor"
    admin = "admin"


class LogFormatOpt(enum.StrEnum):
    json = "json"
    text = "text"


db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
admin_app = typer.Typer(help="Create agents and supervisors.", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8765,
    database_url: DbOpt = None,
    server_key: Annotated[
        Path | None, typer.Option(help="Checkpoint signing key (PEM); created if missing")
    ] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    log_format: Annotated[
        LogFormatOpt,
        typer.Option(
            envvar="HITL_LOG_FORMAT",
            help="Log lines on stderr: json (one object per line, with the trace id) or text",
        ),
    ] = LogFormatOpt.json,
) -> None:
    """Run the backend with uvicorn. Run `hitl db upgrade` first."""
    import os

    import uvicorn

    from backend.logs import logging_config
    from store.migrate import current_revision

    if database_url:
        os.environ["HITL_DATABASE_URL"] = database_url
    if server_key:
        os.environ["HITL_SERVER_KEY"] = str(server_key)
    if current_revision(database_url) is None:
        typer.echo("the database has no schema yet: run `hitl db upgrade` first", err=True)
        raise typer.Exit(2)
    uvicorn.run(
        "backend.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_config=logging_config(log_format.value, log_level),
        access_log=False,  # the app logs each request itself (hitl.access)
    )


@db_app.command("upgrade")
def db_upgrade(database_url: DbOpt = None) -> None:
    """Create or migrate the schema to the latest revision."""
    from store.db import database_url as resolve
    from store.migrate import current_revision, upgrade

    url = resolve(database_url)
    upgrade(url)
    typer.echo(f"database at revision {current_revision(url)}: {_safe(url)}")


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _engine(database_url: str | None):  # type: ignore[no-untyped-def]
    from store.db import make_engine

    return make_engine(database_url)


def _print_created(kind: str, ident: int, name: str, token: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"id": ident, "name": name, "token": token}))
        return
    typer.echo(f"created {kind} {name!r} (id {ident}). Its token, shown only this once:")
    typer.echo(token)


@admin_app.command("create-agent")
def create_agent(
    name: str,
    domain: Annotated[list[str] | None, typer.Option(help="Allowed domain (repeat)")] = None,
    database_url: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create an agent and print its API token once."""
    from sqlalchemy.exc import IntegrityError

    from backend.services.admin import add_agent

    try:
        ident, token = add_agent(_engine(database_url), name=name, domains=domain or [])
    except IntegrityError as exc:
        typer.echo(f"an agent named {name!r} exists already", err=True)
        raise typer.Exit(1) from exc
    _print_created("agent", ident, name, token, as_json)


@admin_app.command("create-supervisor")
def create_supervisor(
    name: str,
    group: Annotated[list[str] | None, typer.Option(help="Supervisor group (repeat)")] = None,
    role: Annotated[
        RoleOpt,
        typer.Option(
            help="viewer: reads the queue, cases and audit of their groups; supervisor: also "
            "claims, decides, enrolls keys; admin: every group and the admin endpoints"
        ),
    ] = RoleOpt.supervisor,
    database_url: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create a supervisor and print their token once."""
    from sqlalchemy.exc import IntegrityError

    from backend.services.admin import add_supervisor

    try:
        ident, token = add_supervisor(
            _engine(database_url), name=name, role=role.value, groups=group or []
        )
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    except IntegrityError as exc:
        typer.echo(f"a supervisor named {name!r} exists already", err=True)
        raise typer.Exit(1) from exc
    if not group and role is not RoleOpt.admin:
        typer.echo(
            f"note: {name!r} is in no group, so sees no case until given one (--group); "
            "only admins see every group",
            err=True,
        )
    _print_created("supervisor", ident, name, token, as_json)


def register(root: typer.Typer) -> None:
    """Entry point for the ``hitl.commands`` group."""
    root.command("serve")(serve)
    root.add_typer(db_app, name="db")
    root.add_typer(admin_app, name="admin")
    root.add_typer(policy_app, name="policy")


app = typer.Typer(name="hitl-backend", no_args_is_help=True, add_completion=False)
register(app)
