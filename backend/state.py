"""What the app holds for its lifetime: engine, keys, clock, triage, notifier, metrics,
the ingest rate limiter."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine

from backend.metrics import Metrics
from backend.notify import CaseNotifier
from backend.principal_cache import PrincipalCache
from backend.services.rate_limit import IngestLimiter
from backend.services.triage import Triage
from backend.settings import BackendSettings

__all__ = ["AppState", "Clock", "SystemSigner"]

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class SystemSigner:
    """The system principal and its key (the server key) that sign fallback decisions."""

    supervisor_id: int
    key_id: str


@dataclass
class AppState:
    settings: BackendSettings
    engine: Engine
    server_key: Ed25519PrivateKey
    clock: Clock
    triage: Triage
    notifier: CaseNotifier = field(default_factory=CaseNotifier)
    principals: PrincipalCache = field(default_factory=lambda: PrincipalCache())
    #: HMAC key for PII placeholders; the app loads the persistent one (backend.redaction_key).
    redaction_key: bytes = field(default_factory=lambda: os.urandom(32), repr=False)
    metrics: Metrics = field(default_factory=Metrics)
    #: Key agents' webhook secrets derive from; the app loads the persistent one
    #: (backend.webhook_key).
    webhook_key: bytes = field(default_factory=lambda: os.urandom(32), repr=False)
    ingest_limiter: IngestLimiter = field(
        default_factory=lambda: IngestLimiter(rate=0, burst=0)  # the app sets the real one
    )
    #: Set once the system principal and the server key's enrollment are committed
    #: (backend.services.fallbacks.system_signer).
    system_signer: SystemSigner | None = None
