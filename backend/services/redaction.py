"""PII redaction at ingest: personal data becomes a typed placeholder before anything is stored.

Each value found is replaced by ``⟦kind:hash⟧``, where ``hash`` is the first
:data:`HASH_HEX` hex digits of HMAC-SHA256 over the kind and the normalized value, keyed
with the server's redaction key. The same e-mail address gives the same placeholder in
every case (a supervisor can see "same e-mail as case 812") and nobody without the key
can test a guess against it. The originals are dropped here and go nowhere else.

What is found in text (precompiled patterns; a scan the regex engine runs at C speed finds
where a match can start, Python looks only there):

- ``email``: ``local@domain.tld`` (normalized to lower case);
- ``card``: 13 to 19 digits, contiguous or in groups of 3+ digits split by single spaces or
  dashes, starting as the card networks' numbers do (2-6, or 1 for 15-digit UATP cards)
  and passing the Luhn check. A run that fails Luhn is left alone. Epoch timestamps in
  milliseconds or microseconds (13 or 16 digits starting with 1) are not cards; other
  13-19 digit identifiers that happen to pass Luhn (1 in 10 do) are redacted as cards:
  a false positive costs a supervisor a number, a false negative leaks a card;
- ``iban``: two letters, two check digits, 11 to 30 letters or digits (contiguous, or
  in the printed groups of four) whose ISO 13616 mod-97 check is 1;
- ``phone``: international numbers (``+`` or ``00``, then 8 to 15 digits in any grouping),
  North American ``(415) 555-0100`` / ``415-555-0100`` / ``415.555.0100``, and national
  numbers with a trunk ``0`` (``020 7946 0958``, ``06 12 34 56 78``, ``0612345678``);
- ``ip``: IPv4 dotted quads (four octets 0-255 without leading zeros, not part of a longer
  dotted run, so version strings such as ``1.2.3`` or ``1.2.3.4.5`` and ``v1.2.3.4`` stay)
  and IPv6 addresses (what ``inet_pton`` accepts, with three groups or one of 3+ digits,
  so ``a::b`` in code and ``::1`` stay; IPv4-mapped ones count as IPv4).

Integers inside JSON (``context``, action ``args``) that are Luhn-valid 13-19 digit numbers
are cards too. Anything else is found only by naming it: ``fields`` takes dotted paths into
the escalation (``context.customer.name``; lists are walked through, ``*`` matches any
key), whose values become ``⟦field:hash⟧`` whatever they hold (an object or list has each
of its values replaced, keys kept).

Everything an agent sends is scanned except :data:`NOT_REDACTED`: the domain (a slug),
the model's name and version (version strings), the trace id and numeric signals.
Placeholders already in the input are kept as they are, so redaction is idempotent.
"""

from __future__ import annotations

import functools
import hmac
import json
import re
import socket
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

from store.canonical import canonical_json
from store.contracts import EscalationCreate, InfoAnswer

__all__ = [
    "HASH_HEX",
    "NOT_REDACTED",
    "RedactionError",
    "compile_field_paths",
    "placeholder",
    "redact_escalation",
    "redact_info_answer",
    "redact_json",
    "redact_text",
]

#: Hex digits of the keyed hash kept in a placeholder (48 bits).
HASH_HEX = 12
#: Top-level escalation fields that are never scanned: identifiers, slugs and numbers.
NOT_REDACTED = frozenset({"domain", "model", "trace_id", "amount", "latency_budget_ms"})

_PLACEHOLDER = re.compile(r"⟦[a-z]+:[0-9a-f]{" + str(HASH_HEX) + r"}⟧", re.ASCII)
_LOCAL = r"[\w.!#$%&'*+/=?^`{|}~-]"
_EMAIL = re.compile(_LOCAL + r"+@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}")
_IS_LOCAL = re.compile(_LOCAL).fullmatch
_IPV6_GATE = re.compile(r"::|:[0-9A-Fa-f]{1,4}:")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f:.]*[0-9A-Fa-f:](?![\w:])", re.ASCII)
_HEXCOLON = frozenset("0123456789abcdefABCDEF:.")
_V4_MAPPED = bytes(10) + b"\xff\xff"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d)", re.ASCII)
_IBAN = re.compile(
    r"[A-Za-z]{2}\d\d(?:[A-Za-z0-9]{11,30}(?!\w)|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?)",
    re.ASCII,
)
# A run of digit groups split by single spaces, dashes, dots or parentheses; its pieces
# are classified (card, phone, nothing) in Python. Separators are mandatory between
# groups so the pattern cannot backtrack exponentially.
_RUN = re.compile(r"(?:\+|\()?\d+\)?(?:[ .\-]\(?\d+\)?|\(\d+\)?|(?<=\))\d+\)?)*(?!\w)", re.ASCII)
# Where a placeholder, an IPv4 address, an IBAN or a digit run long enough to matter
# (7+ characters) can start. It begins with a character class and every other test is an
# assertion, so the regex engine skips everything else (words, short numbers) at C speed.
_TRIGGER = re.compile(
    r"[\d+(⟦](?:(?<=⟦)"
    r"|(?<![\w.][\d+(])(?=[\d+(). \-]{6})"
    r"|(?<=(?<!\w)[A-Za-z]{2}\d)(?=\d[ A-Za-z0-9]{11}))",
    re.ASCII,
)
_DIGITS = re.compile(r"\d+", re.ASCII)


class RedactionError(ValueError):
    """The redacted escalation no longer fits its contract (a placeholder made it too long)."""


def placeholder(kind: str, normalized: str, key: bytes) -> str:
    """``⟦kind:hash⟧`` for a normalized value: HMAC-SHA256(key, kind NUL value), truncated."""
    mac = hmac.digest(key, f"{kind}\x00{normalized}".encode(), "sha256")
    return f"⟦{kind}:{mac.hex()[:HASH_HEX]}⟧"


# -- checks ------------------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    total = 0
    for n, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if n % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to 10..35, mod 97 == 1."""
    if not 15 <= len(iban) <= 34 or not iban[:2].isalpha() or not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


def _card_ok(digits: str) -> bool:
    return (
        13 <= len(digits) <= 19
        and (digits[0] in "23456" or (digits[0] == "1" and len(digits) == 15))
        and luhn_ok(digits)
    )


Span = tuple[int, int, str]  # start, end, placeholder


def _email_spans(text: str, key: bytes) -> list[Span]:
    spans: list[Span] = []
    at = text.find("@")
    while at > 0:
        lo = at
        while lo > 0 and at - lo < 256 and _IS_LOCAL(text[lo - 1]):
            lo -= 1
        m = _EMAIL.match(text, lo) if lo < at else None
        if m is not None:
            spans.append((lo, m.end(), placeholder("email", m.group().lower(), key)))
            at = text.find("@", m.end())
        else:
            at = text.find("@", at + 1)
    return spans


def _ipv6_spans(text: str, key: bytes) -> list[Span]:
    spans: list[Span] = []
    tried = -1
    for gate in _IPV6_GATE.finditer(text):
        lo = gate.start()
        while lo > 0 and text[lo - 1] in _HEXCOLON and gate.start() - lo < 40:
            lo -= 1
        if lo <= tried:
            continue
        tried = lo
        m = _IPV6.match(text, lo)
        if m is None:
            continue
        candidate, end = m.group(), m.end()
        while candidate.endswith((".", ":")) and not candidate.endswith("::"):
            candidate, end = candidate[:-1], end - 1
        groups = [g for g in candidate.replace(".", ":").split(":") if g]
        if len(groups) < 3 and max(map(len, groups), default=0) < 3:
            continue  # "a::b", "::1": code and loopback, not someone's address
        try:
            packed = socket.inet_pton(socket.AF_INET6, candidate)
        except (OSError, ValueError):
            continue
        if packed[:12] == _V4_MAPPED:  # ::ffff:192.0.2.1 is 192.0.2.1
            normalized = socket.inet_ntop(socket.AF_INET, packed[12:])
        else:
            normalized = socket.inet_ntop(socket.AF_INET6, packed)
        spans.append((lo, end, placeholder("ip", normalized, key)))
        tried = end
    return spans


def _iban_span(text: str, m: re.Match[str], key: bytes) -> Span | None:
    raw = m.group()
    # Spaced form: the match may have taken a following short word as a group; try the
    # longest prefix that ends at a group boundary first.
    for cut in [len(raw)] + [i for i in range(len(raw) - 1, 3, -1) if raw[i] == " "]:
        end = m.start() + cut
        if end < len(text) and (text[end].isalnum() or text[end] == "_"):
            continue
        iban = raw[:cut].replace(" ", "").upper()
        if iban_ok(iban):
            return m.start(), end, placeholder("iban", iban, key)
    return None


def _digit_spans(text: str, key: bytes) -> list[Span]:
    """Placeholders already there (kept), IPv4 addresses, IBANs, cards and phone numbers."""
    spans: list[Span] = []
    pos = 0
    while (t := _TRIGGER.search(text, pos)) is not None:
        i = t.start()
        c = text[i]
        if c == "⟦":
            m = _PLACEHOLDER.match(text, i)
            pos = m.end() if m is not None else i + 1
            continue
        if i >= 2 and text[i - 1].isalpha():  # the check digits of an IBAN
            m = _IBAN.match(text, i - 2)
            span = _iban_span(text, m, key) if m is not None else None
            if span is not None:
                spans.append(span)
                pos = span[1]
            else:
                pos = i + 1
            continue
        if (m := _IPV4.match(text, i)) is not None:
            spans.append((i, m.end(), placeholder("ip", m.group(), key)))
            pos = m.end()
            continue
        if (m := _RUN.match(text, i)) is not None:
            spans.extend(_run_spans(m.group(), i, key))
            pos = m.end()
            continue
        pos = i + 1
    return spans


def _run_spans(run: str, offset: int, key: bytes) -> list[Span]:
    if len(run) < 10 and run[0] != "+":  # too short for a card or a phone number
        return []
    groups = [(g.start(), g.end()) for g in _DIGITS.finditer(run)]
    total = sum(b - a for a, b in groups)
    if total < (8 if run[0] == "+" else 10):
        return []  # a date, a decimal number
    g = len(groups)
    if total <= 19:  # the usual case: the whole run is one card or one phone number
        whole = _classify(run, groups, 0, g, "".join(run[a:b] for a, b in groups))
        if whole is not None:
            kind, start, end, normalized = whole
            return [(offset + start, offset + end, placeholder(kind, normalized, key))]
    # Split the run into the pieces that cover the most digit groups (then the fewest
    # pieces): "415-555-0100 4111 1111 1111 1111" is a phone number and a card, even if
    # its first five groups happen to pass Luhn together.
    best: list[tuple[int, int, int, Piece]] = [(0, 0, g, None)] * (g + 1)
    for i in range(g - 1, -1, -1):
        choice: tuple[int, int, int, Piece] = (best[i + 1][0], best[i + 1][1], i + 1, None)
        digits = ""
        for j in range(i + 1, g + 1):
            digits += run[groups[j - 1][0] : groups[j - 1][1]]
            if len(digits) > 19:
                break
            if len(digits) < 8:
                continue
            found = _classify(run, groups, i, j, digits)
            if found is None:
                continue
            covered, pieces = j - i + best[j][0], 1 + best[j][1]
            if (covered, -pieces) > (choice[0], -choice[1]):
                choice = (covered, pieces, j, found)
        best[i] = choice
    spans: list[Span] = []
    i = 0
    while i < g:
        _, _, j, found = best[i]
        if found is not None:
            kind, start, end, normalized = found
            spans.append((offset + start, offset + end, placeholder(kind, normalized, key)))
        i = j
    return spans


Piece = tuple[str, int, int, str] | None  # kind, start, end, normalized value


def _classify(run: str, groups: list[tuple[int, int]], i: int, j: int, digits: str) -> Piece:
    """Is groups[i:j] of a digit run (``digits``, 8 to 19 of them) a card or a phone number?"""
    start, end = groups[i][0], groups[j - 1][1]
    n = len(digits)
    prefix = run[start - 1] if start > 0 and run[start - 1] in "+(" else ""
    # Card: one group, or groups of 3+ digits split by a single space or dash; the first
    # digit of every major network (2-6), or a 15-digit UATP card (1).
    if (
        n >= 13
        and not prefix
        and all(
            run[groups[k][1] : groups[k + 1][0]] in (" ", "-")
            and groups[k + 1][1] - groups[k + 1][0] >= 3
            and groups[k][1] - groups[k][0] >= 3
            for k in range(i, j - 1)
        )
        and _card_ok(digits)
    ):
        return "card", start, end, digits
    if prefix == "(":
        start -= 1
    if run[end : end + 1] == ")" and run[start:end].count("(") > run[start:end].count(")"):
        end += 1
    # International: + or 00, then 8 to 15 digits, the first not 0.
    if prefix == "+":
        ok = n <= 15 and digits[0] != "0"
        return ("phone", start - 1, end, "+" + digits) if ok else None
    if digits.startswith("00"):
        ok = 10 <= n <= 17 and digits[2] != "0"
        return ("phone", start, end, "+" + digits[2:]) if ok else None
    if n > 11:
        return None
    # North American: (415) 555-0100, 415-555-0100, 415.555.0100.
    if j - i == 3 and digits[0] not in "01" and [b - a for a, b in groups[i:j]] == [3, 3, 4]:
        return "phone", start, end, digits
    # National with a trunk 0 (020 7946 0958, 06 12 34 56 78, 0612345678).
    if n >= 10 and digits[0] == "0" and digits[1] != "0":
        return "phone", start, end, digits
    return None


def _spans(text: str, key: bytes) -> list[Span]:
    """Where the personal data in ``text`` is, and its placeholders: sorted, disjoint."""
    spans = _digit_spans(text, key)
    if "@" in text:
        spans += _email_spans(text, key)
    if _IPV6_GATE.search(text):
        spans += _ipv6_spans(text, key)
    spans.sort(key=lambda s: (s[0], -s[1]))
    disjoint: list[Span] = []
    for span in spans:
        if not disjoint or span[0] >= disjoint[-1][1]:
            disjoint.append(span)
    return disjoint


def _splice(text: str, spans: Iterable[Span]) -> str:
    out: list[str] = []
    done = 0
    for start, end, replacement in spans:
        out.append(text[done:start])
        out.append(replacement)
        done = end
    out.append(text[done:])
    return "".join(out)


def redact_text(text: str, *, key: bytes) -> str:
    """Replace every e-mail, card, IBAN, phone number and IP address in ``text``."""
    spans = _spans(text, key)
    return _splice(text, spans) if spans else text


# JSON escapes become spaces of the same length, so positions stay and an escape reads as
# the break it stands for (a newline, a quote): "\\n415-555-0100" must not hide a number.
_ESCAPES = (
    ("\\\\", "  "),
    ('\\"', "  "),
    ("\\n", "  "),
    ("\\r", "  "),
    ("\\t", "  "),
    ("\\b", "  "),
    ("\\f", "  "),
    ("\\/", "  "),
)
_UNICODE_ESCAPE = re.compile(r"\\u[0-9A-Fa-f]{4}")


def _redact_json_text(text: str, key: bytes) -> str | None:
    """Redact JSON text (as ``json.dumps`` or pydantic writes it); None if nothing found."""
    masked = text
    if "\\" in masked:
        for escape, spaces in _ESCAPES:
            masked = masked.replace(escape, spaces)
        masked = _UNICODE_ESCAPE.sub("      ", masked)
    spans = _spans(masked, key)
    if not spans:
        return None
    kept: list[Span] = []
    for start, end, replacement in spans:
        if masked.count('"', 0, start) % 2:
            kept.append((start, end, replacement))  # inside a string
        elif masked[start - 1 : start] in (":", ",", "[", " ") and masked[end : end + 1] in (
            ",",
            "]",
            "}",
        ):
            kept.append((start, end, f'"{replacement}"'))  # a whole number: a card
    return _splice(text, kept) if kept else None


def redact_json(value: Any, *, key: bytes) -> Any:
    """Redact every string (keys too) in a JSON value, and integers that are card numbers."""
    if isinstance(value, str):
        return redact_text(value, key=key)
    text = json.dumps(value, ensure_ascii=False)
    redacted = _redact_json_text(text, key)
    return value if redacted is None else json.loads(redacted)


# -- named fields ------------------------------------------------------------------------

FieldPaths = tuple[tuple[str, ...], ...]


@functools.lru_cache(maxsize=64)
def compile_field_paths(paths: tuple[str, ...]) -> FieldPaths:
    """Check and split dotted field paths; raises ValueError naming a bad one."""
    roots = set(EscalationCreate.model_fields) - NOT_REDACTED
    compiled = []
    for path in paths:
        parts = tuple(path.strip().split("."))
        if not all(parts):
            raise ValueError(f"redaction field path {path!r} has an empty segment")
        if parts[0] not in roots:
            raise ValueError(
                f"redaction field path {path!r} must start with one of {', '.join(sorted(roots))}"
            )
        compiled.append(parts)
    return tuple(compiled)


def _redact_leaves(value: Any, key: bytes) -> Any:
    if isinstance(value, dict):
        return {k: _redact_leaves(v, key) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_leaves(v, key) for v in value]
    if value is None or (isinstance(value, str) and _PLACEHOLDER.fullmatch(value)):
        return value
    return placeholder("field", canonical_json(value).decode(), key)


def _redact_path(value: Any, path: Sequence[str], key: bytes) -> Any:
    if isinstance(value, list):
        return [_redact_path(v, path, key) for v in value]
    if not path:
        return _redact_leaves(value, key)
    if not isinstance(value, dict):
        return value
    head, rest = path[0], path[1:]
    return {k: _redact_path(v, rest, key) if head in ("*", k) else v for k, v in value.items()}


# -- the escalation ----------------------------------------------------------------------


def redact_escalation(
    escalation: EscalationCreate, *, key: bytes, fields: Iterable[str] = ()
) -> EscalationCreate:
    """The escalation with its personal data replaced by placeholders.

    ``fields`` names more values to redact (dotted paths, see :func:`compile_field_paths`):
    from ``HITL_REDACT_FIELDS`` and the ``[redaction]`` of the domain's policy. Returns
    ``escalation`` itself when there is nothing to redact. Raises :class:`RedactionError`
    if a placeholder pushes a field past its length limit.
    """
    paths = compile_field_paths(tuple(fields))
    named = False
    if paths:
        doc = escalation.model_dump(mode="json", exclude=set(NOT_REDACTED))
        before = json.dumps(doc, ensure_ascii=False)
        for path in paths:
            doc[path[0]] = _redact_path(doc[path[0]], path[1:], key)
        text = json.dumps(doc, ensure_ascii=False)
        named = text != before
    else:
        text = escalation.model_dump_json(exclude=set(NOT_REDACTED))
    redacted = _redact_json_text(text, key)
    if redacted is None and not named:
        return escalation
    # The fields left out of the scan, spliced back in: one JSON text, validated in one go.
    kept = escalation.model_dump_json(include=set(NOT_REDACTED))
    body = redacted if redacted is not None else text
    try:
        return EscalationCreate.model_validate_json(f"{body[:-1]},{kept[1:]}")
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise RedactionError(
            "after replacing personal data with placeholders (about 20 characters each) "
            f"the escalation no longer fits: {where}. Shorten these fields."
        ) from None


def redact_info_answer(answer: InfoAnswer, *, key: bytes, fields: Iterable[str] = ()) -> InfoAnswer:
    """The agent's answer to a supervisor's question, redacted as an escalation is.

    The answer's text and context are scanned; of ``fields``, those under ``context`` (e.g.
    ``context.customer.name``) apply to the context the answer adds.
    """
    context: Any = answer.context
    for path in compile_field_paths(tuple(fields)):
        if path[0] == "context":
            context = _redact_path(context, path[1:], key)
    doc = {"answer": answer.answer, "context": context}
    text = json.dumps(doc, ensure_ascii=False)
    redacted = _redact_json_text(text, key)
    if redacted is None and context is answer.context:
        return answer
    try:
        return InfoAnswer.model_validate_json(redacted if redacted is not None else text)
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise RedactionError(
            "after replacing personal data with placeholders (about 20 characters each) "
            f"the answer no longer fits: {where}. Shorten it."
        ) from None
