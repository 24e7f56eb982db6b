"""Which runners a request may choose: the model owner's list, in-process ones by default.

A request's ``params={"runner": ...}`` is read from whoever can reach a served model. A
runner is code that runs with the server's rights, and some open resources for the
process's life: ``DaskRunner`` starts a local cluster whose scheduler listens on a port.
So a request may only name a runner the model's owner allowed when logging it
(``kpm_kwargs={"allowed_runners": [...]}``); by default the in-process runners and the
runner the model was logged with.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from pipelineml.core._names import did_you_mean
from pipelineml.hooks.errors import KedroPipelineModelError
from pipelineml.runners.registry import known_runners

# Runners that start nothing outside the serving process.
IN_PROCESS_RUNNERS = ("SequentialRunner", "ThreadRunner")
_PREFIX = "pipelineml.runners."


def _short(name: str) -> str:
    # The registry knows each of our runners under two spellings; compare one.
    return name.removeprefix(_PREFIX)


def allowed_runner_names(given: Any, own_runner: str) -> tuple[str, ...]:
    """The runner names a request may choose, checked: ``given`` (the owner's list), or
    the in-process runners and ``own_runner`` when ``given`` is ``None``.

    Raises:
        KedroPipelineModelError: When ``given`` is not a list of registered runner names.
    """
    if given is None:
        return tuple(dict.fromkeys([*IN_PROCESS_RUNNERS, _short(own_runner)]))
    if isinstance(given, str) or not isinstance(given, Iterable):
        raise KedroPipelineModelError(
            f"allowed_runners must be a list of runner names, got {given!r}; e.g. "
            f"{list(IN_PROCESS_RUNNERS)}, or [] to refuse every runner a request names."
        )
    names = list(given)
    known = known_runners()
    for name in names:
        if not isinstance(name, str) or name not in known:
            raise KedroPipelineModelError(
                f"allowed_runners names {name!r}, which is not a registered runner. "
                f"Known runners: {', '.join(sorted({_short(k) for k in known}))}."
                + (did_you_mean(name, known) if isinstance(name, str) else "")
            )
    return tuple(dict.fromkeys(_short(name) for name in names))


def check_allowed(name: str, allowed: Iterable[str] | None, own_runner: str) -> None:
    """Refuse a request's runner that the model's owner did not allow (``allowed``; the
    default of ``allowed_runner_names`` when ``None``).

    Raises:
        KedroPipelineModelError: Naming the runner and the ones this model allows (a 400
            when served).
    """
    allowed = allowed_runner_names(None, own_runner) if allowed is None else tuple(allowed)
    if _short(name) in allowed:
        return
    accepted = ", ".join(allowed) if allowed else "none (this model takes no runner param)"
    raise KedroPipelineModelError(
        f"Runner {name!r} is not allowed for this model. Allowed runners: {accepted}. "
        "The model's owner sets them when logging it (kpm_kwargs 'allowed_runners')."
    )


def close_runners(model_state: dict[str, Any]) -> None:
    """Close the runners of a model that is gone (``weakref.finalize`` of the model, given
    its ``__dict__``): a ``DaskRunner`` closes the LocalCluster it started, rather than
    leaving its workers for the rest of the process."""
    runners = [model_state.get("_runner"), model_state.get("_default_runner")]
    runners += list(model_state.get("_runners", {}).values())
    for runner in runners:
        close = getattr(runner, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):  # at exit or in GC: never raise
                close()
