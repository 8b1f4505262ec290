"""Audit export: sign a checkpoint at the current head, then stream the log up to it."""

from __future__ import annotations

from collections.abc import Iterator

from backend.state import AppState
from store import audit
from store.db import read_session, write_session

__all__ = ["checkpoint_key_info", "export_stream"]


def export_stream(state: AppState) -> Iterator[bytes]:
    with write_session(state.engine) as session:
        checkpoint = audit.sign_checkpoint(session, signer=state.server_key)
    with read_session(state.engine) as session:
        for line in audit.export_lines(
            session, checkpoint=checkpoint, checkpoint_key=state.server_key.public_key()
        ):
            yield line.encode("utf-8") + b"\n"


def checkpoint_key_info(state: AppState) -> dict[str, str]:
    from store.signing import fingerprint, key_id, public_key_b64

    public = state.server_key.public_key()
    return {
        "algorithm": "ed25519",
        "keyid": key_id(public),
        "public_key": public_key_b64(public),
        "fingerprint": fingerprint(public),
    }
