"""The YAML loader: bounded, alias-free, duplicate-free, located (engine.load)."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine.load
from engine.load import MAX_BYTES, LoadError, load_bytes, load_file, load_text

CASES = Path(__file__).resolve().parent / "data" / "policy" / "cases"


@pytest.fixture(params=["libyaml", "python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with libyaml and with PyYAML's pure-Python parser (the fallback)."""
    if request.param == "python":
        monkeypatch.setattr(engine.load, "CParser", None)
    elif engine.load.CParser is None:
        pytest.skip("PyYAML was built without libyaml")
    return request.param


def _error(text: str) -> tuple[str, int, int]:
    with pytest.raises(LoadError) as info:
        load_text(text, "t.yaml")
    p = info.value.problem
    return p.code, p.line, p.col


def test_every_key_and_value_keeps_its_position(parser: str):
    doc = load_text("a:\n  b: [1, {c: x}]\n  d: yes\n", "t.yaml")
    assert doc.loc(("a", "b", 1, "c")) == doc.values[("a", "b", 1, "c")]
    assert (doc.loc(("a", "b", 1, "c")).line, doc.loc(("a", "b", 1, "c")).col) == (2, 14)
    assert (doc.loc(("a", "d"), key=True).line, doc.loc(("a", "d"), key=True).col) == (3, 3)
    # A missing key is located at the mapping that lacks it.
    assert (doc.loc(("a", "b", 1, "missing")).line, doc.loc(("a", "b", 1, "missing")).col) \
        == (2, 10)


def test_yaml_1_1_words_stay_strings_and_numbers_stay_numbers(parser: str):
    doc = load_text("a: yes\nb: off\nc: 010\nd: 1:30\ne: 1.30\nf: 7\ng: true\nh: 0x1f\n"
                    "i: ~\nj: 2025-01-01\n", "t.yaml")
    assert doc.data == {"a": "yes", "b": "off", "c": 10, "d": "1:30", "e": 1.3, "f": 7,
                        "g": True, "h": 31, "i": None, "j": "2025-01-01"}
    assert isinstance(doc.data["e"], float) and isinstance(doc.data["f"], int)


def test_keys_are_their_source_text():
    assert load_text("true: 1\n1.50: 2\n", "t.yaml").data == {"true": 1, "1.50": 2}


@pytest.mark.parametrize("text,expected", [
    ("a: 1\nb: 2\na: 3\n", ("yaml-duplicate-key", 3, 1)),
    ("a: {x: 1, x: 2}\n", ("yaml-duplicate-key", 1, 11)),
    ("a: &x 1\n", ("yaml-alias", 1, 4)),
    ("a: 1\nb: *x\n", ("yaml-alias", 2, 4)),
    ("<<: *base\n", ("yaml-alias", 1, 5)),
    ("a:\n\tb: 1\n", ("yaml-syntax", 2, 1)),
    ("a: [1, 2\n", ("yaml-syntax", 2, 1)),
    ("a: 1\n---\nb: 2\n", ("yaml-syntax", 2, 1)),
    ("a: \x07\n", ("yaml-syntax", 1, 4)),
    ("a: .inf\n", ("yaml-number", 1, 4)),
    ("a: 1e999\n", ("yaml-number", 1, 4)),
    ("a: !!set {x}\n", ("yaml-tag", 1, 4)),
    ("a: !!binary aGk=\n", ("yaml-tag", 1, 4)),
    ("a: !custom x\n", ("yaml-tag", 1, 4)),
    ("? [a]\n: 1\n", ("yaml-key", 1, 3)),
])
def test_refused_documents(parser: str, text: str, expected: tuple[str, int, int]):
    assert _error(text) == expected


def test_yaml_bomb_is_refused_at_its_first_anchor(parser: str):
    path = next((CASES / "yaml-bomb").glob("*/*.yaml"))
    with pytest.raises(LoadError) as info:
        load_file(path)
    assert (info.value.problem.code, info.value.problem.line) == ("yaml-alias", 2)


def test_file_over_one_mib_is_refused_before_parsing(tmp_path: Path):
    big = tmp_path / "1.0.0.yaml"
    big.write_bytes(b"a: [" + b"1, " * (2 * MAX_BYTES // 3) + b"1]\n")  # ~2 MiB
    assert big.stat().st_size > 2 * 1024 * 1024 - 16
    with pytest.raises(LoadError) as info:
        load_file(big)
    p = info.value.problem
    assert (p.code, p.line, p.col) == ("yaml-too-large", 0, 0)
    assert "1048576" in p.message


def test_exactly_one_mib_is_still_loaded(tmp_path: Path):
    path = tmp_path / "x.yaml"
    body = b"a: 'x'\n# " + b"x" * (MAX_BYTES - 10) + b"\n"
    assert len(body) == MAX_BYTES
    path.write_bytes(body)
    assert load_file(path).data == {"a": "x"}


def test_non_utf8_reports_byte_offset_and_line():
    with pytest.raises(LoadError) as info:
        load_bytes(b"a: 1\nb: caf\xe9\n", "t.yaml")
    p = info.value.problem
    assert (p.code, p.line, p.col) == ("yaml-encoding", 2, 7)
    assert "offset 11" in p.message and "0xe9" in p.message


def test_bom_is_accepted():
    assert load_bytes("\ufeffa: 1\n".encode(), "t.yaml").data == {"a": 1}


def test_empty_document_loads_as_none():
    assert load_text("# only a comment\n", "t.yaml").data is None
