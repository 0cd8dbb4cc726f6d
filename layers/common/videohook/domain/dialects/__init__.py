"""Provider dialects: how each video API's status answer is asked for and read (PRODUCT.md, "Provider
dialects"). A dialect is data (spec.py); the built-ins are in builtin.py; reader.py and requests.py apply one."""

from __future__ import annotations

from functools import cache

from videohook.domain.dialects.builtin import BUILTIN
from videohook.domain.dialects.spec import Dialect, DialectError, parse_dialect

__all__ = ["BUILTIN", "Dialect", "DialectError", "builtin", "names", "parse_dialect"]


@cache
def builtin(name: str) -> Dialect:
    """A built-in dialect by name; DialectError naming the known ones otherwise."""
    if name not in BUILTIN:
        raise DialectError(f"unknown dialect {name!r}: one of {', '.join(sorted(BUILTIN))}, or an object")
    return parse_dialect(name, BUILTIN[name])


def names() -> list[str]:
    return sorted(BUILTIN)
