"""Load one policy file: strict, bounded YAML with a source location for every node.

The loader is PyYAML's safe loader, narrowed further:

* **Size first.** A file over :data:`MAX_BYTES` (1 MiB) is refused before it is read
  into the parser, so a huge file costs one ``stat``.
* **Strict UTF-8.** Bytes are decoded with ``errors="strict"``; a bad byte is reported
  with its line, column and byte offset.
* **No anchors, no aliases, no merge keys.** Anchors and aliases are refused from the
  parser's events, before any node is composed or expanded, so a "billion laughs"
  document fails at its first ``&anchor``. (libyaml parses when PyYAML has it; the
  pure-Python parser otherwise, with the same checks.)
* **No duplicate keys** (PyYAML silently keeps the last one).
* **YAML 1.2 core scalars.** Implicit booleans are only ``true``/``false`` (any case);
  the YAML 1.1 words ``yes``/``no``/``on``/``off``/``y``/``n`` load as *strings*, so
  ``exists: yes`` is reported by the schema as "'yes' is not of type 'boolean'" and
  ``eq: on`` against a string fact compares with the string ``"on"``, as written.
  Integers are decimal (``010`` is ten), ``0x``/``0o`` prefixed, never sexagesimal
  (``1:30`` is a string). Floats must be finite: ``.nan``/``.inf`` are refused.
* **Dates as ISO strings.** A YAML timestamp (``2025-01-01``) comes out as the string
  ``"2025-01-01"`` (``date.isoformat()``), which is what the JSON Schema checks
  (``format: date``) and pydantic then parses as a ``date``.
* **Keys are names.** A mapping key is kept as its source text (``true: 1`` has the key
  ``"true"``), so every document is JSON-shaped.

Every mapping key and every value keeps its position: :class:`Document` maps a JSON path
(a tuple of keys and indexes) to the 1-based line/column of the node.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.errors import Problem

try:  # libyaml, when PyYAML was built with it (the wheels are)
    from yaml.cyaml import CParser
except ImportError:  # pragma: no cover
    CParser = None

__all__ = ["MAX_BYTES", "Document", "JsonPath", "LoadError", "Loc", "json_path", "load_file",
           "load_text"]

MAX_BYTES = 1024 * 1024

JsonPath = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"


@dataclass(frozen=True)
class Loc:
    """Where a node is: 1-based line and column, and the 0-based character span."""

    line: int
    col: int
    start: int = 0
    end: int = 0


@dataclass
class Document:
    """A loaded YAML document: JSON-shaped data plus the location of every node."""

    file: str
    text: str
    data: Any
    values: dict[JsonPath, Loc] = field(default_factory=dict)  # path -> value node
    keys: dict[JsonPath, Loc] = field(default_factory=dict)  # path -> its mapping key

    def loc(self, path: Sequence[str | int], *, key: bool = False) -> Loc:
        """Location of the node at ``path`` (of its key when ``key``), or of the nearest
        ancestor that exists (a missing key is reported at the mapping that lacks it)."""
        p = tuple(path)
        if key and p in self.keys:
            return self.keys[p]
        while p not in self.values and p:
            p = p[:-1]
        return self.values.get(p, Loc(1, 1))

    def problem(self, path: Sequence[str | int], code: str, message: str, *,
                key: bool = False, suggestion: str | None = None) -> Problem:
        where = self.loc(path, key=key)
        return Problem(self.file, where.line, where.col, code, message, json_path(path),
                       suggestion)


class LoadError(Exception):
    """The file is not a loadable policy document; ``problem`` says where and why."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def json_path(path: Sequence[str | int]) -> str:
    """``('rules', 2, 'then')`` -> ``$.rules[2].then`` (keys that are not names are quoted)."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += "[" + repr(part) + "]"
    return out


# --- the resolver: YAML 1.2 core-schema scalars -----------------------------------------


class _Resolver(yaml.resolver.Resolver):
    yaml_implicit_resolvers: dict = {}  # noqa: RUF012 -- PyYAML's class-level registry


_Resolver.add_implicit_resolver(
    _TAG + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Resolver.add_implicit_resolver(
    _TAG + "int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"))
_Resolver.add_implicit_resolver(
    _TAG + "float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"))
_Resolver.add_implicit_resolver(
    _TAG + "null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Resolver.add_implicit_resolver(
    _TAG + "timestamp",
    re.compile(r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
                 |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
                 (?:[Tt]|[ \t]+)[0-9][0-9]?
                 :[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
                 (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""", re.X),
    list("0123456789"))


class _Loader(
    yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
    yaml.constructor.SafeConstructor, _Resolver,
):
    """Safe loader that refuses anchors and aliases where the parser meets them."""

    def __init__(self, text: str):
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _Resolver.__init__(self)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        _check_event(self.peek_event())
        return super().compose_node(parent, index)


if CParser is not None:

    class _FastLoader(CParser, yaml.constructor.SafeConstructor, _Resolver):
        """libyaml's parser with our resolver: ~10x faster than the pure-Python one. It cannot
        refuse aliases while composing, so :func:`_refuse_anchors` runs over its events first
        (events never expand an alias: a bomb costs one pass over its text)."""

        def __init__(self, text: str):
            CParser.__init__(self, text)
            yaml.constructor.SafeConstructor.__init__(self)
            _Resolver.__init__(self)


def _check_event(event: Any) -> None:
    """Refuse an alias or an anchor (both loaders: an alias bomb is never expanded)."""
    if isinstance(event, AliasEvent):
        raise _Refused(event.start_mark, "yaml-alias",
                       f"alias *{event.anchor} is not allowed in policy files")
    if isinstance(event, ScalarEvent | MappingStartEvent | SequenceStartEvent) \
            and event.anchor is not None:
        raise _Refused(event.start_mark, "yaml-alias",
                       f"anchor &{event.anchor} is not allowed in policy files")


def _refuse_anchors(loader: Any) -> None:
    while loader.check_event():
        _check_event(loader.get_event())


class _Refused(Exception):
    def __init__(self, mark: yaml.Mark, code: str, message: str):
        self.mark, self.code, self.message = mark, code, message


# --- entry points -------------------------------------------------------------------------


def load_file(path: str | Path, *, display: str | None = None) -> Document:
    """Load a policy file; raises :class:`LoadError` (size, encoding, YAML problems)."""
    path = Path(path)
    name = display or str(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise LoadError(Problem(name, 0, 0, "yaml-too-large",
                                f"file is {size} bytes; policy files are limited to "
                                f"{MAX_BYTES} bytes (1 MiB)"))
    return load_bytes(path.read_bytes(), name)


def load_bytes(raw: bytes, name: str) -> Document:
    if len(raw) > MAX_BYTES:
        raise LoadError(Problem(name, 0, 0, "yaml-too-large",
                                f"document is {len(raw)} bytes; the limit is {MAX_BYTES}"))
    try:
        text = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        raise LoadError(Problem(name, line, col, "yaml-encoding",
                                f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset "
                                f"{exc.start} ({exc.reason})")) from None
    return load_text(text, name)


def load_text(text: str, name: str = "<string>") -> Document:
    """Parse YAML text into a :class:`Document`; raises :class:`LoadError`."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise LoadError(Problem(name, 0, 0, "yaml-too-large",
                                f"document is over {MAX_BYTES} bytes"))
    if text.startswith("\ufeff"):
        text = text[1:]  # a BOM is legal UTF-8 but not part of the content
    loader = None
    try:
        if CParser is not None:
            _refuse_anchors(_FastLoader(text))
            loader = _FastLoader(text)
        else:
            loader = _Loader(text)
        root = loader.get_single_node()
    except _Refused as exc:
        raise LoadError(_at(name, exc.mark, exc.code, exc.message)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(m) for m in (exc.context, exc.problem) if m)
        if "expected a single document" in message:
            message = "a policy file holds exactly one YAML document"
        raise LoadError(_at(name, mark, "yaml-syntax", message)) from None
    except yaml.reader.ReaderError as exc:  # a control character the reader rejects
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        raise LoadError(Problem(name, line, col, "yaml-syntax",
                                f"character {exc.character:#06x} is not allowed "
                                f"in YAML")) from None
    finally:
        if loader is not None:
            loader.dispose()
    doc = Document(name, text, None)
    if root is None:
        doc.data = None
        return doc
    doc.data = _build(root, (), doc, loader, name)
    return doc


def _at(name: str, mark: yaml.Mark | None, code: str, message: str,
        path: JsonPath = ()) -> Problem:
    if mark is None:
        return Problem(name, 0, 0, code, message, json_path(path))
    return Problem(name, mark.line + 1, mark.column + 1, code, message, json_path(path))


def _loc(node: Node) -> Loc:
    return Loc(node.start_mark.line + 1, node.start_mark.column + 1,
               node.start_mark.index, node.end_mark.index)


def _build(node: Node, path: JsonPath, doc: Document, loader: _Loader, name: str) -> Any:
    """Turn a composed node into JSON-shaped data, recording every node's location."""
    doc.values[path] = _loc(node)
    expected = {MappingNode: "map", SequenceNode: "seq"}.get(type(node))
    if expected is not None and node.tag != _TAG + expected:  # e.g. !!python/object, !!set
        raise LoadError(_at(name, node.start_mark, "yaml-tag",
                            f"tag {node.tag} is not allowed in policy files", path))
    if isinstance(node, MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise LoadError(_at(name, key_node.start_mark, "yaml-key",
                                    "mapping keys must be plain names, not collections"))
            key = key_node.value
            if key in out:
                first = doc.keys[(*path, key)]
                raise LoadError(_at(name, key_node.start_mark, "yaml-duplicate-key",
                                    f"duplicate key '{key}' (first at line {first.line}, "
                                    f"column {first.col})", (*path, key)))
            doc.keys[(*path, key)] = _loc(key_node)
            out[key] = _build(value_node, (*path, key), doc, loader, name)
        return out
    if isinstance(node, SequenceNode):
        return [_build(item, (*path, i), doc, loader, name) for i, item in enumerate(node.value)]
    try:
        return _scalar(node, loader)
    except _Refused as exc:
        raise LoadError(_at(name, exc.mark, exc.code, exc.message, path)) from None


def _scalar(node: ScalarNode, loader: _Loader) -> Any:
    tag, text, mark = node.tag, node.value, node.start_mark
    if tag == _TAG + "str":
        return text
    if tag == _TAG + "null":
        return None
    if tag == _TAG + "bool":
        return text.lower() == "true"
    if tag == _TAG + "int":
        digits = text.replace("_", "")
        try:
            if digits.startswith("0x"):
                return int(digits[2:], 16)
            if digits.startswith("0o"):
                return int(digits[2:], 8)
            return int(digits, 10)
        except ValueError:
            raise _Refused(mark, "yaml-number", f"'{text}' is not an integer") from None
    if tag == _TAG + "float":
        if text.lstrip("+-").lower() in (".inf", ".nan"):
            raise _Refused(mark, "yaml-number", f"'{text}' is not a finite number")
        try:
            value = float(text.replace("_", ""))
        except ValueError:
            raise _Refused(mark, "yaml-number", f"'{text}' is not a number") from None
        if not math.isfinite(value):  # e.g. 1e999
            raise _Refused(mark, "yaml-number", f"'{text}' is not a finite number")
        return value
    if tag == _TAG + "timestamp":
        try:
            stamp = loader.construct_yaml_timestamp(node)
        except (ValueError, yaml.constructor.ConstructorError):
            return text  # e.g. 2025-02-30: the schema's date format reports it
        return stamp.isoformat() if isinstance(stamp, dt.date) else text
    raise _Refused(mark, "yaml-tag", f"tag {tag} is not allowed in policy files")
