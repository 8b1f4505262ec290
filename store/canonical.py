"""RFC 8785 (JCS) canonical JSON and the digests built on it.

Every digest hitl computes over a JSON object (a case's content digest, an audit
event's hash) goes through :func:`canonical_json`, so that two processes, or an
offline verifier written in another language, get the same bytes.

Reading JSON back to re-canonicalize it goes through :func:`parse_json`, which reads
numbers the way JCS (ECMAScript) does: as IEEE 754 doubles. Python's ``json`` module
returns an ``int`` for ``100000000000000000000``, which ``rfc8785`` then refuses as
outside the safe integer range, although it is the canonical form of the double 1e20.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import rfc8785

__all__ = ["MAX_SAFE_INTEGER", "canonical_json", "json_digest", "parse_json", "sha256_hex"]

#: Integers beyond this are not exactly representable as IEEE 754 doubles (RFC 8785 App. B).
MAX_SAFE_INTEGER = 2**53 - 1


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` (JSON-compatible: dict, list, str, int, float, bool, None).

    Raises ``ValueError`` (``rfc8785.CanonicalizationError``) for what JCS cannot
    represent: NaN, infinities, integers beyond 2**53 - 1, lone surrogates.

    The bytes are ``rfc8785.dumps(value)``'s. A fast path builds them for the values
    hitl digests (plain dicts, lists, str, int, bool, None, floats that print without
    an exponent); anything else, and every error, goes to ``rfc8785`` itself.
    """
    parts: list[str] = []
    try:
        _fast(value, parts)
        return "".join(parts).encode("utf-8")
    except (_NotFast, UnicodeEncodeError, RecursionError):
        return rfc8785.dumps(value)


class _NotFast(Exception):
    """The fast path does not handle this value; ``rfc8785`` will."""


#: JSON string escaping as RFC 8785 specifies it (the C encoder's ``ensure_ascii=False``
#: variant): ``\"``, ``\\``, ``\b \f \n \r \t`` and ``\u00xx`` for the other
#: C0 controls; nothing else is escaped. It is exactly ``rfc8785``'s escape table.
_string = json.encoder.encode_basestring


def _fast(value: Any, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(_string(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        keys = list(value)
        for key in keys:
            if type(key) is not str:
                raise _NotFast
        if "".join(keys).isascii():
            keys.sort()  # code point order is UTF-16 order for ASCII
        else:
            keys.sort(key=lambda k: k.encode("utf-16be"))  # as rfc8785 sorts
        sep = "{"
        for key in keys:
            out.append(sep)
            out.append(_string(key))
            out.append(":")
            _fast(value[key], out)
            sep = ","
        out.append("}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        sep = "["
        for item in value:
            out.append(sep)
            _fast(item, out)
            sep = ","
        out.append("]")
    elif kind is int:
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise _NotFast
        out.append(int.__repr__(value))
    elif kind is float:
        if value == 0:
            out.append("0")
            return
        text = float.__repr__(value)
        # Exponent forms (and nan, inf) need rfc8785's ECMAScript rules.
        if "e" in text or "n" in text:
            raise _NotFast
        out.append(text[:-2] if text.endswith(".0") else text)
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    else:
        raise _NotFast


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_digest(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value``."""
    return "sha256:" + sha256_hex(canonical_json(value))


def _parse_int(text: str) -> int | float:
    n = int(text)
    return n if -MAX_SAFE_INTEGER <= n <= MAX_SAFE_INTEGER else _parse_float(text)


def _parse_float(text: str) -> float:
    f = float(text)
    if math.isinf(f):
        raise ValueError(f"number {text[:40]} is out of the IEEE 754 double range")
    return f


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate property name {key!r}")
        obj[key] = value
    return obj


def parse_json(text: str | bytes) -> Any:
    """Parse I-JSON (RFC 7493) as RFC 8785 reads it, so ``canonical_json`` round-trips.

    Numbers are doubles (integers keep Python's ``int`` while exactly representable);
    NaN, Infinity, out-of-range numbers and duplicate property names raise ``ValueError``.
    """
    return json.loads(
        text,
        parse_int=_parse_int,
        parse_float=_parse_float,
        parse_constant=_reject_constant,
        object_pairs_hook=_unique_keys,
    )
