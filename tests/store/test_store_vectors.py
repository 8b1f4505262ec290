"""store.canonical and store.signing against published test vectors (see vectors/README.md):
RFC 8785 and its authors' testdata for canonical JSON, DSSE's protocol vector for PAE,
RFC 8032 section 7.1 for Ed25519."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from store.canonical import canonical_json, json_digest, parse_json
from store.contracts import Envelope
from store.signing import (
    SignatureError,
    envelope_payload,
    fingerprint,
    key_id,
    load_public_key,
    pae,
    public_key_b64,
    sign_envelope,
    verify_envelope,
)

VECTORS = Path(__file__).with_name("vectors")
JCS_CASES = sorted(p.stem for p in (VECTORS / "jcs" / "input").glob("*.json"))


def _vector(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def _double(hex_bits: str) -> float:
    return float(struct.unpack(">d", bytes.fromhex(hex_bits.zfill(16)))[0])


# -- RFC 8785 / JCS ----------------------------------------------------------------------


def test_jcs_testdata_is_all_there() -> None:
    """The six files of the JCS authors' testdata were copied, with their expected bytes."""
    assert JCS_CASES == ["arrays", "french", "structures", "unicode", "values", "weird"]


@pytest.mark.parametrize("name", JCS_CASES)
def test_canonical_json_matches_the_jcs_testdata(name: str) -> None:
    """Each input file canonicalizes to exactly the published output bytes (and hex)."""
    source = (VECTORS / "jcs" / "input" / f"{name}.json").read_text(encoding="utf-8")
    expected = (VECTORS / "jcs" / "output" / f"{name}.json").read_bytes()
    expected_hex = (VECTORS / "jcs" / "outhex" / f"{name}.txt").read_text().split()
    assert bytes.fromhex("".join(expected_hex)) == expected
    assert canonical_json(parse_json(source)) == expected
    # Canonical output is a fixed point.
    assert canonical_json(parse_json(expected)) == expected


def test_canonical_json_matches_the_rfc8785_sample_bytes() -> None:
    """RFC 8785 section 3.2.2's sample gives the UTF-8 bytes printed in section 3.2.4."""
    examples = _vector("rfc8785_examples.json")
    expected = bytes.fromhex(examples["section_3_2_4_utf8_hex"].replace(" ", ""))
    assert canonical_json(parse_json(examples["section_3_2_2_input"])) == expected


def test_canonical_json_sorts_properties_by_utf16_code_units() -> None:
    """RFC 8785 section 3.2.3's sorting test data comes out in the published order."""
    examples = _vector("rfc8785_examples.json")
    out = canonical_json(parse_json(examples["section_3_2_3_sorting_input"]))
    assert list(parse_json(out).values()) == examples["section_3_2_3_sorted_values"]


def test_canonical_json_keeps_string_subtypes_as_given() -> None:
    """RFC 8785 Appendix E: "055" and a date stay strings, untouched."""
    examples = _vector("rfc8785_examples.json")
    out = canonical_json(parse_json(examples["appendix_e_input"]))
    assert out == examples["appendix_e_output"].encode()


def _appendix_b() -> list[tuple[str, str]]:
    with (VECTORS / "rfc8785_appendix_b.csv").open(encoding="utf-8") as fh:
        rows = [row for row in csv.reader(fh) if row and not row[0].startswith("#")]
    return [(bits, text) for bits, text in rows]


@pytest.mark.parametrize(("bits", "expected"), _appendix_b())
def test_canonical_json_serializes_numbers_as_rfc8785_appendix_b(bits: str, expected: str) -> None:
    """Every sample in RFC 8785 Appendix B serializes as published; NaN and Infinity are
    refused; and the published text parses back to the same bytes (even 2**53 and 2**68,
    which Python's json would read as out-of-range integers)."""
    value = _double(bits)
    if not expected:
        assert math.isnan(value) or math.isinf(value)
        with pytest.raises(ValueError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected.encode()
    assert canonical_json(parse_json(expected)) == expected.encode()
    assert canonical_json({"n": parse_json(expected)}) == b'{"n":' + expected.encode() + b"}"


def _es6_number_lines() -> Iterator[bytes]:
    """The lines of es6testfile100m.txt, generated as testdata/README.md and numgen.go do."""
    spec = _vector("es6_numbers.json")
    bits = [int(h, 16) for h in spec["static_u64"]]
    base = int(spec["serial_base"], 16)
    bits += [base + k for k in range(spec["serial_count"])]
    for b in bits:
        yield f"{b:x},".encode() + canonical_json(_double(f"{b:016x}")) + b"\n"
    block = bytes(32)
    while True:
        block = hashlib.sha256(block).digest()
        for i in range(0, 32, 8):
            (value,) = struct.unpack("<d", block[i : i + 8])
            if value == 0 or math.isnan(value) or math.isinf(value):
                continue
            b = int.from_bytes(block[i : i + 8], "little")
            yield f"{b:x},".encode() + canonical_json(value) + b"\n"


def test_canonical_json_numbers_match_the_es6_test_file_checksums() -> None:
    """The first 100 000 lines of the JCS authors' ES6 number test file (edge cases, every
    exponent, then pseudo-random doubles), serialized by canonical_json, hash to the
    published SHA-256 at 1 000, 10 000 and 100 000 lines."""
    checks = {c["lines"]: c for c in _vector("es6_numbers.json")["checksums"]}
    digest = hashlib.sha256()
    size = 0
    for n, line in enumerate(_es6_number_lines(), start=1):
        digest.update(line)
        size += len(line)
        if n in checks:
            assert (size, digest.hexdigest()) == (checks[n]["bytes"], checks[n]["sha256"]), n
            if n == max(checks):
                break


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), 2**53, -(2**53), "\ud800", {1: "non-string key"}],
)
def test_canonical_json_refuses_what_jcs_cannot_represent(value: Any) -> None:
    """NaN, infinities, integers beyond 2**53 - 1, lone surrogates and non-string keys are
    errors, never silently written into a digest."""
    with pytest.raises(ValueError):
        canonical_json(value)


@pytest.mark.parametrize(
    "text", ['{"a":1,"a":2}', "[NaN]", "[Infinity]", "[-Infinity]", "[1e400]", "[-1e999]"]
)
def test_parse_json_refuses_what_is_not_i_json(text: str) -> None:
    """Duplicate property names and numbers that are not finite doubles are rejected."""
    with pytest.raises(ValueError):
        parse_json(text)


def test_json_digest_is_sha256_of_the_canonical_bytes() -> None:
    """A content digest is "sha256:" + the hex SHA-256 of the RFC 8785 bytes."""
    examples = _vector("rfc8785_examples.json")
    value = parse_json(examples["section_3_2_2_input"])
    expected = bytes.fromhex(examples["section_3_2_4_utf8_hex"].replace(" ", ""))
    assert json_digest(value) == "sha256:" + hashlib.sha256(expected).hexdigest()


# -- DSSE --------------------------------------------------------------------------------


def test_pae_matches_the_dsse_protocol_vector() -> None:
    """PAE of the DSSE spec's example is byte for byte the published string."""
    v = _vector("dsse_protocol.json")
    assert pae(v["payload_type"], v["serialized_body"].encode()) == v["pae"].encode()


def test_pae_is_what_the_published_dsse_signature_signs() -> None:
    """The DSSE spec's ECDSA P-256 signature verifies over our PAE bytes, and our envelope
    parsing returns the published payload."""
    v = _vector("dsse_protocol.json")
    envelope = Envelope.model_validate(
        {
            **v["envelope"],
            "signatures": [
                {**v["envelope"]["signatures"][0], "keyid": v["envelope_keyid_in_signing_spec_py"]}
            ],
        }
    )
    payload = envelope_payload(envelope)
    assert payload == v["serialized_body"].encode()
    raw = base64.b64decode(envelope.signatures[0].sig)
    public = ec.EllipticCurvePublicNumbers(
        int(v["key"]["x"]), int(v["key"]["y"]), ec.SECP256R1()
    ).public_key()
    der = utils.encode_dss_signature(
        int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    )
    public.verify(der, pae(envelope.payloadType, payload), ec.ECDSA(hashes.SHA256()))


def test_pae_counts_bytes_not_characters() -> None:
    """LEN in PAE is the UTF-8 byte length (the spec), not the character count."""
    assert pae("é/ü", b"\x00") == b"DSSEv1 5 \xc3\xa9/\xc3\xbc 1 \x00"
    assert pae("", b"") == b"DSSEv1 0  0 "


# -- Ed25519 (RFC 8032) ------------------------------------------------------------------

RFC8032 = _vector("rfc8032_ed25519.json")["cases"]


@pytest.mark.parametrize("case", RFC8032, ids=[c["name"] for c in RFC8032])
def test_ed25519_matches_rfc8032_section_7_1(case: dict[str, str]) -> None:
    """The RFC's secret key gives its public key and its signature over its message, and
    that signature verifies with the key as store.signing loads it."""
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(case["secret_key"]))
    message = bytes.fromhex(case["message"])
    signature = bytes.fromhex(case["signature"])
    public_b64 = public_key_b64(key.public_key())
    assert base64.b64decode(public_b64).hex() == case["public_key"]
    assert key.sign(message) == signature
    load_public_key(base64.b64encode(bytes.fromhex(case["public_key"])).decode()).verify(
        signature, message
    )


@pytest.mark.parametrize("case", RFC8032, ids=[c["name"] for c in RFC8032])
def test_sign_envelope_with_an_rfc8032_key_is_ed25519_over_pae(case: dict[str, str]) -> None:
    """An envelope signed with the RFC's key carries exactly Ed25519(key, PAE(type, message))
    and verifies under the RFC's public key; the same signature over the bare message does not."""
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(case["secret_key"]))
    message = bytes.fromhex(case["message"])
    payload_type = "application/vnd.hitl.decision.v1+json"
    envelope = sign_envelope(message, payload_type, key)
    assert base64.b64decode(envelope.signatures[0].sig) == key.sign(pae(payload_type, message))
    assert base64.b64decode(envelope.payload) == message
    public = load_public_key(base64.b64encode(bytes.fromhex(case["public_key"])).decode())
    kid = key_id(public)
    assert envelope.signatures[0].keyid == kid
    assert verify_envelope(envelope, {kid: public}, payload_type=payload_type) == message
    bare = envelope.model_copy(
        update={
            "signatures": [envelope.signatures[0].model_copy(update={"sig": case["signature"]})]
        }
    )
    with pytest.raises(SignatureError):
        verify_envelope(bare, {kid: public})


def test_fingerprint_matches_ssh_keygen() -> None:
    """The fingerprint shown for a key is what `ssh-keygen -l` prints for it (RFC 8032 TEST 1
    key; expected value computed with OpenSSH's ssh-keygen), and the key id is derived from
    SHA-256 of the raw key."""
    case = RFC8032[0]
    public = load_public_key(base64.b64encode(bytes.fromhex(case["public_key"])).decode())
    assert fingerprint(public) == "SHA256:bbXpuKG6zhzdmnxq256TlqzFBzRl2f6OOg722cYNbU8"
    assert key_id(public) == hashlib.sha256(bytes.fromhex(case["public_key"])).hexdigest()[:32]
