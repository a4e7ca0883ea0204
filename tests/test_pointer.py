"""JSON pointers (RFC 6901): escaping, parsing, and the examples of the RFC itself."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.context import to_pointer as fact_pointer
from engine.pointer import parse_pointer, to_pointer

# RFC 6901 section 5: the pointers of this document and the token lists they stand for.
RFC_EXAMPLES: list[tuple[str, tuple[str, ...]]] = [
    ("", ()),
    ("/foo", ("foo",)),
    ("/foo/0", ("foo", "0")),
    ("/", ("",)),
    ("/a~1b", ("a/b",)),
    ("/c%d", ("c%d",)),
    ("/e^f", ("e^f",)),
    ("/g|h", ("g|h",)),
    ("/i\\j", ("i\\j",)),
    ('/k"l', ('k"l',)),
    ("/ ", (" ",)),
    ("/m~0n", ("m~n",)),
]


@pytest.mark.parametrize(("text", "tokens"), RFC_EXAMPLES)
def test_the_rfc_examples(text: str, tokens: tuple[str, ...]) -> None:
    assert parse_pointer(text) == tokens
    assert to_pointer(tokens) == text


def test_tilde_one_is_decoded_before_tilde_zero() -> None:
    # "~01" is "~" followed by "1", never "/"
    assert parse_pointer("/~01") == ("~1",)
    assert to_pointer(["~1"]) == "/~01"


def test_list_indexes_are_written_as_numbers() -> None:
    parts: list[Any] = ["financials", "ratings", 0]
    assert to_pointer(parts) == "/financials/ratings/0"


@pytest.mark.parametrize("text", ["financials/dscr", "~0", " /a"])
def test_text_that_is_not_a_pointer_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a JSON pointer"):
        parse_pointer(text)


@given(st.lists(st.text(alphabet=st.sampled_from("a/~01 é"), max_size=6), max_size=5))
def test_parse_inverts_to_pointer(tokens: list[str]) -> None:
    assert parse_pointer(to_pointer(tokens)) == tuple(tokens)


def test_dotted_fact_paths() -> None:
    assert fact_pointer("financials.dscr") == "/financials/dscr"
    assert fact_pointer("swot.a/b~c") == "/swot/a~1b~0c"
