"""Server-side commands: ``serve``, ``db upgrade``, ``admin ...``, ``policy ...``.

Registered into the ``hitl`` CLI through the ``hitl.commands`` entry point, and runnable
alone as ``python -m backend``. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from backend.policy_cli import policy_app

if TYPE_CHECKING:
    from store.contracts import GroupPublic

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
admin_app = typer.Typer(
    help="Create agents and supervisors; agents' webhooks and rate limits; groups.",
    no_args_is_help=True,
)
group_app = typer.Typer(
    help="Supervisor groups: fallback group and open-case limit.", no_args_is_help=True
)
ServerKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--server-key",
        help="The server key `hitl serve` uses (env HITL_SERVER_KEY): webhook secrets derive "
        "from the `webhook_key` file beside it (or HITL_WEBHOOK_KEY)",
    ),
]


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


def _print_created(
    kind: str,
    ident: int,
    name: str,
    token: str,
    as_json: bool,
    webhook_secret: str | None = None,
) -> None:
    if as_json:
        out: dict[str, object] = {"id": ident, "name": name, "token": token}
        if webhook_secret is not None:
            out["webhook_secret"] = webhook_secret
        typer.echo(json.dumps(out))
        return
    typer.echo(f"created {kind} {name!r} (id {ident}). Its token, shown only this once:")
    typer.echo(token)
    if webhook_secret is not None:
        typer.echo("Its webhook signing secret (verify deliveries with it), shown only this once:")
        typer.echo(webhook_secret)


def _webhook_key(server_key: Path | None) -> bytes:
    from backend.settings import BackendSettings
    from backend.webhook_key import webhook_key

    settings = BackendSettings(server_key=server_key) if server_key else BackendSettings()
    return webhook_key(settings)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@admin_app.command("create-agent")
def create_agent(
    name: str,
    domain: Annotated[list[str] | None, typer.Option(help="Allowed domain (repeat)")] = None,
    webhook_url: Annotated[
        str | None,
        typer.Option(help="Where outcomes are POSTed (https://…); prints the signing secret"),
    ] = None,
    server_key: ServerKeyOpt = None,
    database_url: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create an agent and print its API token (and webhook secret) once."""
    from sqlalchemy.exc import IntegrityError

    from backend.services.admin import add_agent, webhook_secret

    key = _webhook_key(server_key) if webhook_url is not None else None
    try:
        ident, token = add_agent(
            _engine(database_url),
            name=name,
            domains=domain or [],
            webhook_url=webhook_url,
            webhook_key=key,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    except IntegrityError as exc:
        raise _fail(f"an agent named {name!r} exists already", 1) from exc
    secret = webhook_secret(key, agent_id=ident, version=1) if key is not None else None
    _print_created("agent", ident, name, token, as_json, secret)


@admin_app.command("set-webhook")
def set_webhook(
    name: str,
    url: Annotated[str | None, typer.Option(help="The new webhook URL (https://…)")] = None,
    rotate: Annotated[
        bool, typer.Option(help="Issue a new signing secret; the old one signs too for a day")
    ] = False,
    remove: Annotated[bool, typer.Option(help="Stop sending webhooks to this agent")] = False,
    server_key: ServerKeyOpt = None,
    database_url: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Set, rotate or remove an agent's webhook. A new secret is printed once."""
    from datetime import timedelta

    from backend.services.admin import set_webhook as change
    from backend.settings import BackendSettings

    grace = timedelta(seconds=BackendSettings().webhook_rotation_grace_seconds)
    try:
        result = change(
            _engine(database_url),
            name=name,
            webhook_key=_webhook_key(server_key),
            url=url,
            remove=remove,
            rotate=rotate,
            grace=grace,
        )
    except LookupError as exc:
        raise _fail(str(exc), 1) from exc
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    until = result.previous_valid_until
    if as_json:
        out = {
            "id": result.agent_id,
            "name": result.name,
            "webhook_url": result.url,
            "webhook_secret_version": result.secret_version,
            "webhook_secret": result.secret,
            "previous_secret_valid_until": until.isoformat() if until else None,
        }
        typer.echo(json.dumps(out))
        return
    if result.url is None:
        typer.echo(f"agent {name!r} gets no webhooks now (long-polling still works)")
    else:
        typer.echo(f"agent {name!r} gets webhooks at {result.url}")
    if result.secret is not None:
        typer.echo(f"Its signing secret (version {result.secret_version}), shown only this once:")
        typer.echo(result.secret)
    if until is not None:
        typer.echo(f"Deliveries carry a signature by the previous secret too until {until:%c} UTC.")


@admin_app.command("set-rate-limit")
def set_rate_limit(
    name: str,
    rate: Annotated[int | None, typer.Option(help="Escalations per minute (0: no limit)")] = None,
    burst: Annotated[
        int | None, typer.Option(help="Escalations in any one second (0: no limit)")
    ] = None,
    default: Annotated[
        bool, typer.Option("--default", help="Back to HITL_INGEST_RATE / HITL_INGEST_BURST")
    ] = False,
    database_url: DbOpt = None,
) -> None:
    """Give an agent its own ingest limits (running backends apply them within 30 s)."""
    from backend.services.admin import set_rate_limit as change

    if default == (rate is not None or burst is not None):
        raise _fail("give --rate and/or --burst, or --default")
    try:
        change(_engine(database_url), name=name, rate=rate, burst=burst)
    except LookupError as exc:
        raise _fail(str(exc), 1) from exc
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    shown = ", ".join(
        f"{what} {value if value is not None else 'server default'}"
        for what, value in (("rate/min", rate), ("burst/s", burst))
    )
    typer.echo(f"agent {name!r}: {shown}")


@admin_app.command("webhooks")
def webhooks(
    agent: Annotated[str | None, typer.Option(help="Only this agent's deliveries")] = None,
    state: Annotated[
        list[str] | None,
        typer.Option(help="pending, delivered, dead or cancelled (repeat)"),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first")] = 50,
    database_url: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON Lines")] = False,
) -> None:
    """List webhook deliveries: state, attempts, the next attempt, the last error."""
    from dataclasses import asdict

    from backend.services.admin import list_deliveries

    try:
        rows = list_deliveries(_engine(database_url), agent=agent, states=state or [], limit=limit)
    except LookupError as exc:
        raise _fail(str(exc), 1) from exc
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    for row in rows:
        if as_json:
            typer.echo(json.dumps(asdict(row), default=str))
            continue
        when = (
            f"delivered {row.delivered_at:%Y-%m-%d %H:%M:%S}"
            if row.delivered_at
            else f"next {row.next_attempt_at:%Y-%m-%d %H:%M:%S}"
            if row.state == "pending"
            else ""
        )
        error = f"  last: {row.last_error}" if row.last_error and row.state != "delivered" else ""
        typer.echo(
            f"{row.id:>6} {row.state:<9} {row.agent} case {row.case_id} {row.kind} "
            f"attempts {row.attempts} {when}{error}".rstrip()
        )


@admin_app.command("redeliver")
def redeliver(
    agent: Annotated[str | None, typer.Option(help="Only this agent's dead deliveries")] = None,
    database_url: DbOpt = None,
) -> None:
    """Send dead webhook deliveries again, with a fresh set of attempts."""
    from backend.services.admin import redeliver as again

    try:
        count = again(_engine(database_url), agent=agent)
    except LookupError as exc:
        raise _fail(str(exc), 1) from exc
    typer.echo(f"{count} dead deliver{'y' if count == 1 else 'ies'} queued again")


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


@group_app.command("set")
def group_set(
    name: str,
    domain: Annotated[
        list[str] | None,
        typer.Option(help="A domain this group handles (repeat; replaces the list)"),
    ] = None,
    fallback: Annotated[
        str | None, typer.Option(help="Where new cases go when nobody here is on call")
    ] = None,
    no_fallback: Annotated[bool, typer.Option("--no-fallback", help="Remove the fallback")] = False,
    limit: Annotated[
        int | None,
        typer.Option(
            help="Open cases at which new low and medium cases take their fallback at once"
        ),
    ] = None,
    no_limit: Annotated[bool, typer.Option("--no-limit", help="Remove the limit")] = False,
    database_url: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create or change a group; options not given keep their value."""
    from backend.services.groups import GroupConfigError, configure_group

    if fallback is not None and no_fallback:
        typer.echo("give --fallback or --no-fallback, not both", err=True)
        raise typer.Exit(2)
    if limit is not None and no_limit:
        typer.echo("give --limit or --no-limit, not both", err=True)
        raise typer.Exit(2)
    try:
        group = configure_group(
            _engine(database_url),
            name=name,
            domains=domain,
            fallback_group=fallback,
            clear_fallback=no_fallback,
            open_case_limit=limit,
            clear_limit=no_limit,
        )
    except GroupConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(group.model_dump_json())
        return
    typer.echo(f"group {group.name}: {_describe(group)}")


@group_app.command("list")
def group_list(
    database_url: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Every group: routing, open cases, who is on call."""
    from backend.services.groups import groups

    found = groups(_engine(database_url))
    if as_json:
        typer.echo(json.dumps([g.model_dump(mode="json") for g in found]))
        return
    if not found:
        typer.echo("no groups yet: `hitl admin group set NAME` configures one")
    for group in found:
        typer.echo(f"{group.name}: {_describe(group)}")


def _describe(group: GroupPublic) -> str:
    limit = "no limit" if group.open_case_limit is None else f"limit {group.open_case_limit}"
    parts = [
        f"{group.open_cases} open ({limit})",
        f"fallback {group.fallback_group}" if group.fallback_group else "no fallback",
        "on call: " + (", ".join(group.on_call) or "nobody"),
    ]
    if group.away:
        parts.append("away: " + ", ".join(group.away))
    if group.domains:
        parts.append("domains: " + ", ".join(group.domains))
    return "; ".join(parts)


def register(root: typer.Typer) -> None:
    """Entry point for the ``hitl.commands`` group."""
    root.command("serve")(serve)
    root.add_typer(db_app, name="db")
    root.add_typer(admin_app, name="admin")
    root.add_typer(policy_app, name="policy")


admin_app.add_typer(group_app, name="group")

app = typer.Typer(name="hitl-backend", no_args_is_help=True, add_completion=False)
register(app)
