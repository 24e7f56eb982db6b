"""Small helpers about Kedro dataset names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

_TRANSCODING_SEPARATOR = "@"


def is_parameter(name: str) -> bool:
    """Whether ``name`` refers to parameters (``parameters`` or ``params:...``)."""
    return name == "parameters" or name.startswith("params:")


def strip_transcoding(name: str) -> str:
    """``"data@pandas"`` -> ``"data"``: Kedro matches transcoded names on their base."""
    return name.split(_TRANSCODING_SEPARATOR, 1)[0]


def sorted_names(names: Iterable[str]) -> list[str]:
    """Names in a stable order for error messages."""
    return sorted(set(names))


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``candidates`` to ``name``, or ``""``."""
    match = difflib.get_close_matches(name, sorted(set(candidates)), n=1)
    return f" Did you mean '{match[0]}'?" if match else ""
