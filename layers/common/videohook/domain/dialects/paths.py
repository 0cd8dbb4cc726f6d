"""Paths into a provider's JSON answer: `data.task_result.videos[0].url`. A dialect names where each field is
with these; `get` reads one (None where the answer has no such place), `put` writes one (the simulated
provider builds its answers with it). Pure: no IO."""

from __future__ import annotations

import itertools
import re
from functools import lru_cache
from typing import Any

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_PATH = re.compile(r"^[^.\[\]]+(\[\d+\])*(\.[^.\[\]]+(\[\d+\])*)*$")

Step = str | int


class BadPath(ValueError):
    """A path that is not `name(.name)*` with optional `[index]` after a name."""


@lru_cache(maxsize=1024)
def compile_path(path: str) -> tuple[Step, ...]:
    if not isinstance(path, str) or not _PATH.match(path):
        raise BadPath(f"{path!r} is not a path like 'data.items[0].url'")
    return tuple(name if name else int(index) for name, index in _STEP.findall(path))


def get(body: Any, path: str) -> Any:
    """The value at `path`, or None when any step is missing or of the wrong kind."""
    value = body
    for step in compile_path(path):
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
        if value is None:
            return None
    return value


def first(body: Any, paths: tuple[str, ...], *kinds: type) -> Any:
    """The first value found at any of `paths` that is not None, not an empty string, and (when `kinds` are
    given) of one of those types (never a bool). A list where a string is wanted is passed over."""
    for path in paths:
        value = get(body, path)
        if value is None or value == "" or isinstance(value, bool):
            continue
        if kinds and not isinstance(value, kinds):
            continue
        return value
    return None


def put(body: dict[str, Any], path: str, value: Any) -> None:
    """Write `value` at `path`, making the objects and lists on the way (lists padded with empty objects)."""
    steps = compile_path(path)
    node: Any = body
    for step, following in itertools.pairwise(steps):
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(step, int):
            while len(node) <= step:
                node.append({})
            if not isinstance(node[step], dict | list) or type(node[step]) is not type(empty):
                node[step] = empty
            node = node[step]
        else:
            if not isinstance(node.get(step), dict | list) or type(node.get(step)) is not type(empty):
                node[step] = empty
            node = node[step]
    last = steps[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value
