"""The canonical-JSON fast path must produce exactly the bytes ``rfc8785`` produces.

Digests and signatures depend on these bytes: a fast path that differed from RFC 8785 on
any value would make a decision signed by one party unverifiable by another.
"""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from store.canonical import MAX_SAFE_INTEGER, canonical_json

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.integers()  # beyond 2**53: both must refuse
    | st.floats()  # NaN and infinities included: both must refuse
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e22, max_value=1e22)
    | st.text()  # lone surrogates included
)

json_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=30,
)


def _reference(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except Exception as exc:  # the error class is what we compare
        return type(exc)


@settings(max_examples=2000, deadline=None)
@given(json_values)
def test_canonical_json_fast_path_is_byte_identical_to_rfc8785(value: Any) -> None:
    """Any JSON value serializes to rfc8785's bytes, or is refused exactly when it refuses."""
    expected = _reference(value)
    if isinstance(expected, bytes):
        assert canonical_json(value) == expected
    else:
        with pytest.raises(expected):
            canonical_json(value)


@pytest.mark.parametrize(
    "value",
    [0.1, -0.0, 1e-7, 1e-6, 123456789.125, 1e15, 1e16, 1e20, 1e21, 5e-324, 2**53 - 1, "é\u2028"],
)
def test_canonical_json_fast_path_matches_rfc8785_at_number_format_edges(value: Any) -> None:
    """Numbers at the edges where ECMAScript switches notation keep rfc8785's bytes."""
    assert canonical_json({"v": value, "l": [value]}) == rfc8785.dumps({"v": value, "l": [value]})
