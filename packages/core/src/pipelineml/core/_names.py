"""Small helpers about Kedro dataset names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

_TRANSCODING_SEPARATOR = "@"
_PARAMS_PREFIX = "params:"


def is_parameter(name: str) -> bool:
    """Whether ``name`` refers to parameters (``parameters`` or ``params:...``)."""
    return name == "parameters" or name.startswith(_PARAMS_PREFIX)


def parameter_path(name: str) -> str | None:
    """``"params:model.alpha"`` -> ``"model.alpha"``; ``None`` for any other name
    (``parameters`` included: it is all parameters, not one)."""
    return name[len(_PARAMS_PREFIX) :] if name.startswith(_PARAMS_PREFIX) else None


def parameter_key(name: str) -> str | None:
    """The top-level key of ``parameters.yml`` that ``name`` reads: ``"params:model.alpha"``
    -> ``"model"``; ``None`` when ``name`` is not ``params:...``."""
    path = parameter_path(name)
    return None if path is None else path.split(".", 1)[0]


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
