"""The console's HTTP client maps every failure to an error a supervisor can read."""

from __future__ import annotations

import httpx
import pytest

from console.client import HitlClient
from console.errors import (
    ApiError,
    AuthError,
    BackendUnreachable,
    Conflict,
    InvalidRequest,
    NotFound,
)


def _client(handler) -> HitlClient:  # type: ignore[no-untyped-def]
    return HitlClient("http://hitl.test", "tok", transport=httpx.MockTransport(handler))


def _problem(status: int, title: str, detail: str, **extra: object) -> httpx.Response:
    return httpx.Response(
        status,
        json={"type": "about:blank", "title": title, "status": status, "detail": detail, **extra},
        headers={"content-type": "application/problem+json"},
    )


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (409, Conflict),
        (422, InvalidRequest),
        (400, InvalidRequest),
        (500, ApiError),
    ],
)
async def test_client_maps_problem_status_to_console_error(status: int, error: type) -> None:
    """Each problem+json status becomes one console error carrying title and detail."""
    async with _client(lambda r: _problem(status, "Nope", "fix the thing", who="bob")) as c:
        with pytest.raises(error) as err:
            await c.case(1)
    assert err.value.status == status
    assert str(err.value) == "Nope: fix the thing"
    assert err.value.body["who"] == "bob"


async def test_client_unreachable_backend_is_one_clear_error() -> None:
    """A refused connection says which backend could not be reached."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with _client(refuse) as c:
        with pytest.raises(BackendUnreachable) as err:
            await c.queue()
    assert "http://hitl.test" in str(err.value)


async def test_client_timeout_says_it_timed_out() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with _client(slow) as c:
        with pytest.raises(BackendUnreachable, match="did not answer in time"):
            await c.me()


async def test_client_unexpected_body_is_reported_not_crashing() -> None:
    """A 200 that is not the expected contract is an ApiError naming the model."""
    async with _client(lambda r: httpx.Response(200, json={"what": "ever"})) as c:
        with pytest.raises(ApiError, match="QueuePage"):
            await c.queue()


async def test_client_non_json_error_body_still_has_a_title() -> None:
    async with _client(lambda r: httpx.Response(502, text="<html>bad gateway</html>")) as c:
        with pytest.raises(ApiError) as err:
            await c.case(3)
    assert err.value.status == 502
    assert err.value.title == "Bad Gateway"


async def test_client_sends_bearer_token_and_query() -> None:
    """The token goes in the Authorization header; filters become query parameters."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    async with _client(record) as c:
        await c.queue(limit=5, severity="high", domain="payments")
    assert seen[0].headers["authorization"] == "Bearer tok"
    assert dict(seen[0].url.params) == {"limit": "5", "severity": "high", "domain": "payments"}
