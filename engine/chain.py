"""Canonical JSON, the record hash chain and HMAC-signed checkpoints.

Canonical form (what is hashed, and what is stored byte for byte):

* JSON, UTF-8, no insignificant whitespace, object keys sorted by Unicode code point;
  non-ASCII characters are written as themselves, control characters as ``\\u00xx``;
* numbers: integers (and floats with an integral value below 1e21) as plain decimal
  integers (``5.0`` → ``5``); other floats in ECMAScript ``Number.prototype.toString``
  form, the shortest text that reads back as the same double (``0.15``, ``1e-7``,
  ``1e+21``). NaN and infinities are refused.

This is RFC 8785 (JCS) for every value a decision record holds, so an auditor can check a
hash with any JCS library. (JCS differs only for keys outside the Basic Multilingual Plane
and for integers beyond 2**53, which records never contain.)

Record hash = sha256(prev_hash as ASCII hex + canonical(record without ``hash``)), the
first record's prev_hash being 64 zeros. A checkpoint signs ``canonical({"seq", "hash"})``
of the head with HMAC-SHA256.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import json
import math
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "GENESIS",
    "canonical",
    "canonical_parts",
    "checkpoint_mac",
    "join_parts",
    "load_or_create_key",
    "record_hash",
    "verify_mac",
]

GENESIS = "0" * 64


def _es_number(x: float) -> str:
    """ECMAScript Number::toString of a finite double (RFC 8785 §3.2.2.3)."""
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # repr() gives the shortest round-tripping digits; re-place the decimal point the ES way.
    mantissa, _, exp_text = repr(abs(x)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = (int_part + frac_part).lstrip("0")
    # n: position of the decimal point relative to the first significant digit (ES "n").
    n = (
        len(int_part.lstrip("0"))
        if int_part.strip("0")
        else -(len(frac_part) - len(frac_part.lstrip("0")))
    )
    n += int(exp_text) if exp_text else 0
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    exp = f"e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + (digits[0] + ("." + digits[1:] if k > 1 else "")) + exp


# Floats in this range print the same in Python's repr and in ECMAScript (fixed notation,
# shortest round-tripping digits), so only integral floats need changing there.
_ES_FIXED_MIN, _ES_FIXED_MAX = 1e-4, 1e16


def _number(value: float, raw: dict[str, str], token: str) -> Any:
    """A float as the encoder should see it: int, itself, or a placeholder for ES text."""
    if value.is_integer():
        if abs(value) < 1e21:
            return int(value)
    elif _ES_FIXED_MIN <= abs(value) < _ES_FIXED_MAX:
        return value  # the common case: no text work at all
    if not math.isfinite(value):
        raise ValueError(f"cannot canonicalise non-finite number {value!r}")
    text = _es_number(value)
    if text == repr(value):
        return value
    placeholder = f"{token}{len(raw)}"
    raw[placeholder] = text
    return placeholder


def _prepare_dict(value: Mapping[str, Any], raw: dict[str, str], token: str) -> dict[str, Any]:
    # Leaves are dispatched inline: a function call per leaf was most of the cost.
    out = {}
    for k, v in value.items():
        if type(k) is not str and not isinstance(k, str):
            raise TypeError(f"object keys must be strings, not {type(k).__name__}")
        kind = type(v)
        if kind is str or kind is int or kind is bool or v is None:
            out[k] = v
        elif kind is float:
            out[k] = _number(v, raw, token)
        elif kind is dict:
            out[k] = _prepare_dict(v, raw, token)
        else:
            out[k] = _prepare(v, raw, token)
    return out


def _prepare(value: Any, raw: dict[str, str], token: str) -> Any:
    """Copy ``value`` with numbers in canonical form.

    Integral floats become ints. The few floats whose ES text differs from Python's repr
    (|x| < 1e-4, |x| >= 1e16) become a unique placeholder string replaced after encoding,
    so the fast C encoder still does the work.
    """
    kind = type(value)  # exact-type dispatch first: this walk is the hot path of append
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return _number(value, raw, token)
    if kind is dict:
        return _prepare_dict(value, raw, token)
    if kind is list:
        return [
            v if (t := type(v)) is str or t is int or t is bool or v is None
            else _prepare(v, raw, token)
            for v in value
        ]
    if isinstance(value, str | int):  # subclasses (bool is handled above)
        return value
    if isinstance(value, float):
        return _number(float(value), raw, token)
    if isinstance(value, Mapping):
        return _prepare_dict(value, raw, token)
    if isinstance(value, list | tuple):
        return [_prepare(v, raw, token) for v in value]
    if isinstance(value, dt.date):  # a datetime too: ISO 8601 text, as a log entry has it
        return value.isoformat()
    if hasattr(value, "model_dump"):  # a pydantic model: its JSON form
        return _prepare(value.model_dump(mode="json"), raw, token)
    raise TypeError(f"cannot canonicalise {type(value).__name__}")


# One encoder for every call (``json.dumps`` with options builds a new one each time).
# No circularity check: ``_prepare`` has already walked (and copied) the whole value.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
    check_circular=False,
)


def _token() -> str:
    return "\x00n" + secrets.token_hex(8) + ":"


def _finish(text: str, raw: dict[str, str]) -> str:
    for placeholder, number in raw.items():
        # The encoder escapes the NUL of the placeholder; user strings cannot hold the token.
        text = text.replace(_ENCODER.encode(placeholder), number, 1)
    return text


def canonical(value: Any) -> bytes:
    """The canonical UTF-8 JSON bytes of ``value`` (see the module docstring)."""
    raw: dict[str, str] = {}
    text = _ENCODER.encode(_prepare(value, raw, _token()))
    return (_finish(text, raw) if raw else text).encode("utf-8")


def canonical_parts(value: Mapping[str, Any]) -> dict[str, str]:
    """The canonical text of each member of an object, for ``join_parts``.

    The decision log canonicalises a record's members before it takes the chain lock and
    adds ``seq``/``prev_hash`` under it: ``join_parts({**canonical_parts(body), "seq":
    "7"})`` is exactly ``canonical({**body, "seq": 7})`` as text.
    """
    raw: dict[str, str] = {}
    prepared = _prepare_dict(value, raw, _token())
    parts = {k: _ENCODER.encode(v) for k, v in prepared.items()}
    if raw:  # each placeholder is in exactly one member
        parts = {k: _finish(text, raw) if "\\u0000n" in text else text
                 for k, text in parts.items()}
    return parts


@functools.lru_cache(maxsize=1024)
def _key_text(key: str) -> str:
    return _ENCODER.encode(key)


def join_parts(parts: Mapping[str, str]) -> str:
    """The canonical text of an object from its members' canonical texts."""
    return "{" + ",".join(_key_text(k) + ":" + parts[k] for k in sorted(parts)) + "}"


def record_hash(prev_hash: str, body: bytes) -> str:
    """Hash of a record whose canonical body (without ``hash``) is ``body``."""
    return hashlib.sha256(prev_hash.encode("ascii") + body).hexdigest()


def checkpoint_mac(key: bytes, seq: int, head_hash: str) -> str:
    return hmac.new(key, canonical({"hash": head_hash, "seq": seq}), hashlib.sha256).hexdigest()


def verify_mac(key: bytes, seq: int, head_hash: str, mac: str) -> bool:
    return hmac.compare_digest(checkpoint_mac(key, seq, head_hash), mac)


def load_or_create_key(env_key: str | None, key_file: Path, *, create: bool = True) -> bytes | None:
    """The checkpoint key: ``CRMC_AUDIT_KEY`` if set, else the key file (created if asked).

    The file is written to a private temporary name and hard-linked into place, so
    several workers starting at once agree on one key and nobody reads a half-written
    file. The key itself is never logged or printed.
    """
    if env_key:
        return env_key.encode("utf-8")
    try:
        return _read_key(key_file)
    except FileNotFoundError:
        if not create:
            return None
    key_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use its key
            os.link(tmp, key_file)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key(key_file)


def _read_key(key_file: Path) -> bytes:
    text = key_file.read_text(encoding="utf-8").strip()
    if not text:
        raise ValueError(f"{key_file}: audit key file is empty")
    return text.encode("utf-8")
