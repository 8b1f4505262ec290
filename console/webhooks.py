"""For agents: check and read a webhook delivery from hitl.

Deliveries follow Standard Webhooks, so any of its libraries verifies them; this wraps
the reference one (``standardwebhooks``) and parses the body into the contract::

    event = verify_webhook(secret, body=request_body_bytes, headers=request.headers)
    if event.type == "decision.recorded" and event.data.decision:
        ...

Pass the body exactly as received (bytes, not re-serialized JSON). Verification also
refuses a ``webhook-timestamp`` more than five minutes from this machine's clock (replays);
drop repeats by ``webhook-id`` (retries of one event carry the same one).
"""

from __future__ import annotations

from collections.abc import Mapping

from standardwebhooks import Webhook, WebhookVerificationError

from store.contracts import WebhookEvent

__all__ = ["WebhookVerificationError", "verify_webhook"]


def verify_webhook(secret: str, *, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
    """The delivery's event, if its signature verifies under ``secret`` (``whsec_…``).

    Raises :class:`WebhookVerificationError` for a missing header, a stale or future
    timestamp, or no matching signature.
    """
    Webhook(secret).verify(body, dict(headers), json_parse=False)
    return WebhookEvent.model_validate_json(body)
