"""The ``hitl`` command line.

Client commands live here. Server commands (``serve``, ``db``, ``admin``) are plugged
in through the ``hitl.commands`` entry-point group, so this package never imports the
backend: a supervisor's install needs nothing but the console and ``store``.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["app", "main"]

app = typer.Typer(
    name="hitl",
    help="Human-in-the-loop escalation: the supervisor console and its backend.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
audit_app = typer.Typer(help="Export and verify the audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

err = Console(stderr=True)
out = Console()

UrlOpt = Annotated[str | None, typer.Option("--url", help="Backend URL (env HITL_URL)")]


@app.command("console")
def console_cmd(
    url: UrlOpt = None,
    bundle: Annotated[
        Path | None,
        typer.Option(
            "--bundle",
            help="Review a bundle from `hitl pull` with no backend at all; decisions are "
            "signed into it, for `hitl push`",
        ),
    ] = None,
) -> None:
    """Open the supervisor console on the queue (or on a pulled bundle, with --bundle).

    With the backend unreachable it opens on the copy kept from last time (OFFLINE, with
    its age); cases you had claimed can still be decided: each decision is signed and
    saved on this machine, then sent in order when the backend answers.
    """
    from console.app import run_console
    from console.config import load_settings

    raise typer.Exit(run_console(load_settings(url=url), bundle=bundle))


@app.command("pull")
def pull_cmd(
    out: Annotated[Path, typer.Option("--out", help="The bundle file to create (mode 0600)")],
    url: UrlOpt = None,
    group: Annotated[
        str | None, typer.Option("--group", help="Only this group (default: all your groups)")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many cases, most urgent first")] = 500,
) -> None:
    """Write open cases to one bundle file for air-gapped review (`hitl console --bundle`)."""
    import asyncio

    from console.bundle import run_pull
    from console.config import load_settings

    raise typer.Exit(asyncio.run(run_pull(load_settings(url=url), out, group=group, limit=limit)))


@app.command("push")
def push_cmd(
    bundle: Annotated[Path, typer.Argument(help="A bundle reviewed with `hitl console --bundle`")],
    url: UrlOpt = None,
) -> None:
    """Send a bundle's signed decisions; the backend checks each one (exit 1 on any conflict)."""
    import asyncio

    from console.bundle import run_push
    from console.config import load_settings

    raise typer.Exit(asyncio.run(run_push(load_settings(url=url), bundle)))


@app.command("login")
def login_cmd(
    url: UrlOpt = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="The supervisor token; read from a hidden prompt (or standard input) when "
            "omitted, which keeps it out of shell history and the process list",
        ),
    ] = None,
) -> None:
    """Check a supervisor token against the backend and keep it in the OS keyring.

    Only a real OS keyring is used (Secret Service, KWallet, macOS or Windows keychain).
    With none (e.g. a headless SSH box), the token is checked but NOT stored, and hitl
    says so and exits 1: hitl never writes a token in plain text on its own. Pass it as
    HITL_TOKEN instead, or put token = "..." in the config file at your own risk
    (chmod 600). A keyring that does not answer within HITL_KEYRING_TIMEOUT seconds
    (locked, waiting on a prompt) is reported, never waited on forever.
    """
    from console.auth import run_login
    from console.config import load_settings

    raise typer.Exit(run_login(load_settings(url=url), token=token))


@app.command("enroll")
def enroll_cmd(
    url: UrlOpt = None,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="Opt in to an encrypted OpenSSH key file instead of the OS keyring "
            "(for headless boxes with no keyring)",
        ),
    ] = None,
) -> None:
    """Create an Ed25519 signing key, keep it safe and register its public half.

    The private key goes to the OS keyring; with no real OS keyring, hitl says so and
    offers --key-file: an OpenSSH key file encrypted with a passphrase (bcrypt KDF), mode
    0600 in a 0700 directory, never overwritten. The backend pins the key's fingerprint;
    the console refuses any key whose fingerprint it did not pin. Running it again with
    the same key is a no-op. Passphrase: HITL_KEY_PASSPHRASE or a prompt.
    """
    from console.auth import run_enroll
    from console.config import load_settings

    raise typer.Exit(run_enroll(load_settings(url=url), key_file=key_file))


@app.command("doctor")
def doctor_cmd(url: UrlOpt = None) -> None:
    """Report config path, backend reachability, token and key presence, keyring backend."""
    from console.config import load_settings
    from console.doctor import run_doctor

    raise typer.Exit(run_doctor(load_settings(url=url)))


@app.command("demo")
def demo_cmd(
    cases: Annotated[int, typer.Option(help="How many demo escalations to seed")] = 40,
) -> None:
    """Start a backend on a fresh SQLite file with demo data, then open the console on it."""
    from console.demo import run_demo

    raise typer.Exit(run_demo(cases=cases))


@audit_app.command("verify")
def audit_verify_cmd(
    file: Annotated[Path, typer.Argument(help="A JSONL export from `hitl audit export`")],
    trust_key: Annotated[
        str | None,
        typer.Option(help="Pin the backend's checkpoint key (key id or base64 public key)"),
    ] = None,
) -> None:
    """Verify an exported audit log offline: chain, checkpoint and every decision signature.

    Exits 0 when it verifies, 1 when it does not (and says at which line and why).
    """
    from store.audit import AuditVerifyError, verify_export

    try:
        with file.open(encoding="utf-8") as fh:
            report = verify_export(
                (line.rstrip("\n") for line in fh), trusted_checkpoint_key=trust_key
            )
    except OSError as exc:
        err.print(f"[red]cannot read {file}: {exc.strerror}[/]")
        raise typer.Exit(2) from exc
    except AuditVerifyError as exc:
        err.print(f"[bold red]FAILED[/] {file}: {exc}")
        raise typer.Exit(1) from exc
    elided = (
        f" ({report.elided} elided: outside your groups, so not checked beyond the chain "
        "and the checkpoint's signature)"
        if report.elided
        else ""
    )
    out.print(
        f"[bold green]OK[/] {report.events} events{elided}, {report.decisions} signed "
        f"decisions, {report.keys} enrolled keys; head {report.head[:16]}…; "
        f"checkpoint key {report.checkpoint_keyid}"
        + ("" if trust_key else " (not pinned: pass --trust-key to check its origin)")
    )


@audit_app.command("export")
def audit_export_cmd(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the JSONL export")],
    url: UrlOpt = None,
) -> None:
    """Download the audit log (with a fresh signed checkpoint) as JSONL."""
    import asyncio

    from console.auth import export_audit
    from console.config import load_settings

    raise typer.Exit(asyncio.run(export_audit(load_settings(url=url), out_file)))


def _load_plugins() -> None:
    for ep in entry_points(group="hitl.commands"):
        try:
            register = ep.load()
        except ImportError as exc:  # e.g. a console-only install without the server extras
            err.print(f"[dim]hitl: server commands unavailable ({exc})[/]")
            continue
        register(app)


def main() -> None:
    _load_plugins()
    app(prog_name="hitl")


if __name__ == "__main__":
    main()
