"""``CopyPolicy``: which copy mode applies to which in-memory dataset."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any, cast

from pipelineml.core._names import did_you_mean
from pipelineml.runners._copying import COPY_MODES, CopyMode
from pipelineml.runners.errors import CopyModeError

__all__ = ["CopyPolicy"]

_GLOB_CHARS = frozenset("*?[")


def _is_pattern(name: str) -> bool:
    return any(char in _GLOB_CHARS for char in name)


def _specificity(pattern: str) -> tuple[int, int, str]:
    # More literal characters first, then fewer wildcards, then alphabetical so the order
    # never depends on dict order.
    literal = sum(1 for char in pattern if char not in _GLOB_CHARS)
    return (-literal, pattern.count("*"), pattern)


def _check_mode(mode: Any, where: str) -> CopyMode:
    if mode in COPY_MODES:
        return cast("CopyMode", mode)
    raise CopyModeError(
        f"Invalid copy mode {mode!r} {where}. Possible values are: "
        f"{', '.join(COPY_MODES)}.{did_you_mean(str(mode), COPY_MODES)}"
    )


class CopyPolicy:
    """Maps dataset names to Kedro's copy modes: ``assign``, ``copy`` or ``deepcopy``.

    Rules are exact dataset names or glob patterns (``"*_df"``). An exact name wins over
    any pattern; among patterns the most specific (most literal characters) wins. Names
    that match nothing get ``default``; with no default, ``mode_for`` returns ``None`` and
    Kedro's own inference from the data's type applies (copy for pandas and numpy,
    deepcopy for most other objects).

    Example:
        ```python
        CopyPolicy("assign")  # every dataset is handed over as is
        CopyPolicy({"model": "assign", "*_df": "copy"}, default="deepcopy")
        ```

    When to use which: ``assign`` hands the same object to every node (fastest; right for
    fitted models and read-only data), ``copy`` calls ``data.copy()`` (a DataFrame a node
    mutates in place), ``deepcopy`` protects nested mutable objects at the highest cost.
    """

    __module__ = "pipelineml.runners"  # its public import path

    __slots__ = ("_cache", "_default", "_exact", "_hash", "_patterns")

    def __init__(
        self,
        modes: str | Mapping[str, str] | None = None,
        *,
        default: str | None = None,
    ) -> None:
        """Create a policy.

        Args:
            modes: One mode for every dataset (a str), or ``{name or glob: mode}``.
            default: The mode for names no rule matches; ``None`` leaves them to Kedro's
                inference.

        Raises:
            CopyModeError: When a mode is unknown (naming it and the allowed values) or
                when ``modes`` is a str and ``default`` is given too.
        """
        exact: dict[str, CopyMode] = {}
        patterns: list[tuple[str, CopyMode]] = []
        if isinstance(modes, str):
            if default is not None:
                raise CopyModeError(
                    f"CopyPolicy({modes!r}, default={default!r}) is ambiguous: a single "
                    "mode already applies to every dataset. Pass a dict of rules with "
                    "default=..., or only one mode."
                )
            default = modes
        elif isinstance(modes, Mapping):
            for name, mode in modes.items():
                if not isinstance(name, str):
                    raise CopyModeError(
                        f"CopyPolicy keys must be dataset names or glob patterns (str), "
                        f"got {type(name).__name__} {name!r}."
                    )
                checked = _check_mode(mode, f"for dataset '{name}'")
                if _is_pattern(name):
                    patterns.append((name, checked))
                else:
                    exact[name] = checked
        elif modes is not None:
            raise CopyModeError(
                "CopyPolicy accepts a copy mode (str), a dict of {dataset or pattern: mode} "
                f"or None, got {type(modes).__name__} {modes!r}."
            )
        self._default: CopyMode | None = (
            None if default is None else _check_mode(default, "as the default")
        )
        self._exact = exact
        self._patterns = tuple(sorted(patterns, key=lambda item: _specificity(item[0])))
        self._cache: dict[str, CopyMode | None] = {}
        # Policies key per-plan memos on every run: hash them once.
        self._hash = hash((self._default, tuple(sorted(self._exact.items())), self._patterns))

    @classmethod
    def from_spec(cls, spec: str | Mapping[str, str] | CopyPolicy | None) -> CopyPolicy:
        """A policy from a mode (str), a dict of rules, a policy (returned as is) or None.

        Raises:
            CopyModeError: When ``spec`` is of another type or holds an unknown mode.
        """
        if isinstance(spec, CopyPolicy):
            return spec
        return cls(spec)

    @property
    def default(self) -> CopyMode | None:
        """The mode for names no rule matches (``None``: Kedro's inference)."""
        return self._default

    @property
    def rules(self) -> dict[str, CopyMode]:
        """Exact names and patterns with their modes, patterns most specific first."""
        return {**self._exact, **dict(self._patterns)}

    @property
    def is_empty(self) -> bool:
        """Whether the policy leaves every dataset to Kedro's inference."""
        return self._default is None and not self._exact and not self._patterns

    def mode_for(self, name: str) -> CopyMode | None:
        """The copy mode for dataset ``name``, or ``None`` to let Kedro infer it."""
        try:
            return self._cache[name]
        except KeyError:
            pass
        mode = self._exact.get(name)
        if mode is None:
            for pattern, pattern_mode in self._patterns:
                if fnmatch.fnmatchcase(name, pattern):
                    mode = pattern_mode
                    break
            else:
                mode = self._default
        self._cache[name] = mode
        return mode

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CopyPolicy):
            return NotImplemented
        return (self._default, self._exact, self._patterns) == (
            other._default,
            other._exact,
            other._patterns,
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        rules = self.rules
        if not rules:
            return f"CopyPolicy({self._default!r})"
        return f"CopyPolicy({rules!r}, default={self._default!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"default": self._default, "exact": self._exact, "patterns": self._patterns}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._default = state["default"]
        self._exact = state["exact"]
        self._patterns = state["patterns"]
        self._cache = {}
        self._hash = hash((self._default, tuple(sorted(self._exact.items())), self._patterns))
