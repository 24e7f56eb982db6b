"""CopyPolicy: how modes are resolved, validated and compared, and what runners do with them."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from functools import partial
from typing import Any

import kedro.runner
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node

from pipelineml.runners import CopyModeError, CopyPolicy, SequentialRunner, ThreadRunner

# --------------------------------------------------------------------------- resolution

MIXED = {"model": "assign", "*_df": "copy"}


@pytest.mark.parametrize(
    ("policy", "name", "expected"),
    [
        (CopyPolicy("assign"), "x", "assign"),
        (CopyPolicy("copy"), "anything", "copy"),
        (CopyPolicy(MIXED, default="deepcopy"), "model", "assign"),
        (CopyPolicy(MIXED, default="deepcopy"), "raw_df", "copy"),
        (CopyPolicy(MIXED, default="deepcopy"), "other", "deepcopy"),
        # An exact name wins over a pattern that matches it too.
        (CopyPolicy({"raw_df": "deepcopy", "*_df": "copy"}), "raw_df", "deepcopy"),
        (CopyPolicy({"*_df": "copy", "raw_df": "deepcopy"}), "raw_df", "deepcopy"),
        # The more specific pattern wins, whatever the order of the rules.
        (CopyPolicy({"*_df": "copy", "raw_*_df": "assign"}), "raw_sales_df", "assign"),
        (CopyPolicy({"raw_*_df": "assign", "*_df": "copy"}), "raw_sales_df", "assign"),
        (CopyPolicy({"*_df": "copy", "raw_*_df": "assign"}), "clean_df", "copy"),
        (CopyPolicy({"model_?": "assign"}), "model_a", "assign"),
        (CopyPolicy({"model_[ab]": "assign"}), "model_c", None),
        # No rule matches and no default: Kedro's inference decides.
        (CopyPolicy(MIXED), "other", None),
        (CopyPolicy(), "x", None),
        (CopyPolicy(None, default="copy"), "x", "copy"),
    ],
)
def test_mode_for_resolves_rules(policy: CopyPolicy, name: str, expected: str | None) -> None:
    """mode_for: exact names beat patterns, specific patterns beat general ones, then the default."""
    assert policy.mode_for(name) == expected
    assert policy.mode_for(name) == expected  # answered from the cache the second time


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("assign", CopyPolicy("assign")),
        (MIXED, CopyPolicy(MIXED)),
        (None, CopyPolicy()),
    ],
)
def test_from_spec_accepts_str_dict_and_none(spec: Any, expected: CopyPolicy) -> None:
    """from_spec builds a policy from a mode, a dict of rules or None."""
    assert CopyPolicy.from_spec(spec) == expected


def test_from_spec_returns_a_policy_unchanged() -> None:
    """from_spec returns a CopyPolicy as is (the same object)."""
    policy = CopyPolicy(MIXED, default="deepcopy")
    assert CopyPolicy.from_spec(policy) is policy


@pytest.mark.parametrize("spec", [42, ["assign"], ("model", "assign"), 1.5, b"assign"])
def test_from_spec_rejects_other_types(spec: Any) -> None:
    """from_spec refuses values that are neither a mode, a dict, a policy nor None."""
    with pytest.raises(CopyModeError, match=r"CopyPolicy accepts a copy mode \(str\), a dict"):
        CopyPolicy.from_spec(spec)


@pytest.mark.parametrize(
    "make",
    [
        lambda: CopyPolicy("fast"),
        lambda: CopyPolicy({"model": "fast"}),
        lambda: CopyPolicy({"model": "assign"}, default="fast"),
        lambda: CopyPolicy.from_spec({"*_df": "fast"}),
    ],
)
def test_unknown_mode_is_named_with_the_allowed_ones(make: Callable[[], CopyPolicy]) -> None:
    """An unknown mode raises CopyModeError naming it and listing assign, copy, deepcopy."""
    with pytest.raises(
        CopyModeError,
        match=r"Invalid copy mode 'fast'.*Possible values are: assign, copy, deepcopy",
    ):
        make()


def test_unknown_mode_suggests_the_closest() -> None:
    """A near miss such as 'deep_copy' gets a "Did you mean 'deepcopy'?" hint."""
    with pytest.raises(CopyModeError, match=r"'deep_copy'.*Did you mean 'deepcopy'\?"):
        CopyPolicy({"model": "deep_copy"})


def test_unknown_mode_names_the_dataset() -> None:
    """The error for a bad rule names the dataset or pattern it belongs to."""
    with pytest.raises(CopyModeError, match=r"for dataset '\*_df'"):
        CopyPolicy({"*_df": "shallow"})


def test_single_mode_with_default_is_ambiguous() -> None:
    """CopyPolicy('assign', default='copy') is refused: one mode already covers every dataset."""
    with pytest.raises(CopyModeError, match=r"CopyPolicy\('assign', default='copy'\) is ambiguous"):
        CopyPolicy("assign", default="copy")


@pytest.mark.parametrize("key", [1, None, ("a", "b")])
def test_non_str_keys_are_refused(key: Any) -> None:
    """Rule keys must be dataset names or glob patterns (str)."""
    with pytest.raises(CopyModeError, match="CopyPolicy keys must be dataset names or glob"):
        CopyPolicy({key: "assign"})


def test_a_bad_mode_is_caught_where_value_errors_are() -> None:
    """Code that catches ValueError around a policy (as around Kedro's copy modes) still
    catches a bad mode, and the message names it and the accepted ones."""
    try:
        SequentialRunner(copy_policy={"model": "shallow"})
    except ValueError as caught:
        message = str(caught)
    else:
        pytest.fail("a bad copy mode was accepted")
    assert "Invalid copy mode 'shallow' for dataset 'model'" in message
    assert "assign, copy, deepcopy" in message


def test_equal_policies_compare_and_hash_equal() -> None:
    """Policies with the same rules and default are equal and hash alike, whatever the rule order."""
    first = CopyPolicy({"model": "assign", "*_df": "copy", "raw_*": "deepcopy"}, default="copy")
    second = CopyPolicy({"raw_*": "deepcopy", "*_df": "copy", "model": "assign"}, default="copy")
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1


@pytest.mark.parametrize(
    "other",
    [
        CopyPolicy({"model": "assign"}, default="deepcopy"),
        CopyPolicy({"model": "copy"}),
        CopyPolicy({"models": "assign"}),
        CopyPolicy("assign"),
    ],
)
def test_different_policies_are_not_equal(other: CopyPolicy) -> None:
    """A different rule, mode or default makes policies unequal."""
    assert CopyPolicy({"model": "assign"}) != other


def test_policy_is_not_equal_to_its_spec() -> None:
    """A policy does not compare equal to the str or dict it was built from."""
    assert CopyPolicy("assign") != "assign"
    assert CopyPolicy(MIXED) != MIXED


@pytest.mark.parametrize(
    ("policy", "text"),
    [
        (CopyPolicy("assign"), "CopyPolicy('assign')"),
        (CopyPolicy(), "CopyPolicy(None)"),
        (
            CopyPolicy({"model": "assign", "*_df": "copy"}, default="deepcopy"),
            "CopyPolicy({'model': 'assign', '*_df': 'copy'}, default='deepcopy')",
        ),
    ],
)
def test_repr_shows_rules_and_default(policy: CopyPolicy, text: str) -> None:
    """repr shows the rules and the default, and evaluates back to an equal policy."""
    assert repr(policy) == text
    assert eval(text, {"CopyPolicy": CopyPolicy}) == policy


def test_properties_describe_the_policy() -> None:
    """rules lists exact names then patterns (most specific first); default and is_empty reflect the rest."""
    policy = CopyPolicy({"*_df": "copy", "model": "assign", "raw_*_df": "deepcopy"})
    assert list(policy.rules.items()) == [
        ("model", "assign"),
        ("raw_*_df", "deepcopy"),
        ("*_df", "copy"),
    ]
    assert policy.default is None
    assert not policy.is_empty
    assert CopyPolicy().is_empty
    assert not CopyPolicy("assign").is_empty


def test_pickling_round_trip() -> None:
    """A pickled policy loads equal and resolves names the same way."""
    policy = CopyPolicy({"model": "assign", "*_df": "copy", "raw_*_df": "deepcopy"}, default="copy")
    policy.mode_for("raw_sales_df")  # fills the cache, which is not pickled
    restored = pickle.loads(pickle.dumps(policy))
    assert restored == policy
    assert hash(restored) == hash(policy)
    for name in ("model", "raw_sales_df", "clean_df", "other"):
        assert restored.mode_for(name) == policy.mode_for(name)


# --------------------------------------------------------------------------- runners


class Seen:
    """What nodes produced and received, by name, for identity checks."""

    def __init__(self) -> None:
        self.objects: dict[str, Any] = {}

    def keep(self, key: str, value: Any) -> Any:
        self.objects[key] = value
        return value


def observed_mode(produced: dict[str, Any], received: dict[str, Any]) -> str:
    """Which copy mode turns ``produced`` into ``received`` (both hold a list under "items")."""
    if received is produced:
        return "assign"
    if received["items"] is produced["items"]:
        return "copy"
    return "deepcopy"


def _mutation_pipeline(seen: Seen, container: str) -> Pipeline:
    def produce() -> Any:
        return seen.keep("produced", [1, 2, 3] if container == "list" else {"k": [1, 2, 3]})

    def mutate(shared: Any) -> int:
        seen.keep("mutator", shared)
        if isinstance(shared, list):
            shared.append(99)
        else:
            shared["k"].append(99)
            shared["new"] = True
        return 1

    def observe(shared: Any, mutated: int) -> Any:
        # Runs after ``mutate`` (it needs its output), so a shared object would show it.
        seen.keep("observer", shared)
        return repr(shared)

    return Pipeline(
        [
            node(produce, None, "shared", name="produce"),
            node(mutate, "shared", "mutated", name="mutate"),
            node(observe, ["shared", "mutated"], "observed", name="observe"),
        ]
    )


RUNNERS: dict[str, Callable[..., Any]] = {
    "kedro-sequential": lambda **_: kedro.runner.SequentialRunner(),
    "kedro-thread": lambda **_: kedro.runner.ThreadRunner(max_workers=3),
    "sequential": SequentialRunner,
    "thread": partial(ThreadRunner, max_workers=3),
}
OURS = ["sequential", "thread"]


@pytest.mark.parametrize("container", ["list", "dict"])
@pytest.mark.parametrize("kind", list(RUNNERS))
def test_no_policy_isolates_consumers_from_mutation(
    kind: str, container: str, closing: Any
) -> None:
    """Without a policy a node mutating its input does not affect another consumer (deepcopy)."""
    seen = Seen()
    runner = closing(RUNNERS[kind]())
    result = runner.run(_mutation_pipeline(seen, container), DataCatalog())

    expected = "[1, 2, 3]" if container == "list" else "{'k': [1, 2, 3]}"
    assert result["observed"].load() == expected
    assert seen.objects["mutator"] is not seen.objects["produced"]
    assert seen.objects["observer"] is not seen.objects["produced"]


@pytest.mark.parametrize("kind", list(RUNNERS))
def test_no_policy_copies_dataframes(kind: str, closing: Any) -> None:
    """Without a policy pandas DataFrames are copied: in-place changes stay with the node that made them."""
    seen = Seen()

    def produce() -> pd.DataFrame:
        return seen.keep("produced", pd.DataFrame({"x": [1, 2, 3]}))

    def mutate(frame: pd.DataFrame) -> int:
        seen.keep("mutator", frame)
        frame.loc[0, "x"] = -1
        frame["y"] = 0
        return 1

    def observe(frame: pd.DataFrame, mutated: int) -> list[str]:
        seen.keep("observer", frame)
        return [*frame.columns, str(frame.loc[0, "x"])]

    pipe = Pipeline(
        [
            node(produce, None, "frame", name="produce"),
            node(mutate, "frame", "mutated", name="mutate"),
            node(observe, ["frame", "mutated"], "observed", name="observe"),
        ]
    )
    result = closing(RUNNERS[kind]()).run(pipe, DataCatalog())

    assert result["observed"].load() == ["x", "1"]
    assert seen.objects["mutator"] is not seen.objects["produced"]
    assert seen.objects["observer"] is not seen.objects["produced"]
    assert seen.objects["produced"]["x"].tolist() == [1, 2, 3]


@pytest.mark.parametrize("kind", OURS)
def test_assign_hands_the_same_object_to_every_consumer(kind: str, closing: Any) -> None:
    """With copy_policy='assign' the very object a node returned reaches both consumers."""
    seen = Seen()
    runner = closing(RUNNERS[kind](copy_policy="assign"))
    result = runner.run(_mutation_pipeline(seen, "list"), DataCatalog())

    assert seen.objects["mutator"] is seen.objects["produced"]
    assert seen.objects["observer"] is seen.objects["produced"]
    assert result["observed"].load() == "[1, 2, 3, 99]"


@pytest.mark.parametrize("kind", OURS)
@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            {"model": "assign", "*_df": "copy", "raw_*_df": "deepcopy"},
            {
                "model": "assign",
                "clean_df": "copy",
                "raw_sales_df": "deepcopy",
                "scores": "deepcopy",
            },
        ),
        (
            CopyPolicy({"model": "assign", "*_df": "copy"}, default="assign"),
            {"model": "assign", "clean_df": "copy", "raw_sales_df": "copy", "scores": "assign"},
        ),
        (
            {"raw_sales_df": "assign", "*_df": "deepcopy", "model": "copy"},
            {
                "model": "copy",
                "clean_df": "deepcopy",
                "raw_sales_df": "assign",
                "scores": "deepcopy",
            },
        ),
    ],
)
def test_dict_policy_picks_the_mode_per_dataset(
    kind: str, policy: Any, expected: dict[str, str], closing: Any
) -> None:
    """Exact names and glob patterns give each in-memory dataset its own copy mode."""
    names = sorted(expected)
    seen = Seen()

    def produce() -> tuple[dict[str, Any], ...]:
        return tuple(seen.keep(f"produced:{name}", {"items": [name]}) for name in names)

    def consume(*received: dict[str, Any]) -> int:
        for name, value in zip(names, received, strict=True):
            seen.keep(f"received:{name}", value)
        return len(received)

    pipe = Pipeline(
        [
            node(produce, None, names, name="produce"),
            node(consume, names, "consumed", name="consume"),
        ]
    )
    closing(RUNNERS[kind](copy_policy=policy)).run(pipe, DataCatalog())

    observed = {
        name: observed_mode(seen.objects[f"produced:{name}"], seen.objects[f"received:{name}"])
        for name in names
    }
    assert observed == expected


@pytest.mark.parametrize("kind", OURS)
def test_policy_applies_to_free_outputs(kind: str, closing: Any) -> None:
    """Free outputs the runner registers keep the policy's mode: 'assign' returns the node's object."""
    seen = Seen()
    pipe = Pipeline([node(lambda: seen.keep("model", {"items": [1]}), None, "model", name="fit")])
    result = closing(RUNNERS[kind](copy_policy={"model": "assign"})).run(pipe, DataCatalog())

    assert result["model"].load() is seen.objects["model"]


@pytest.mark.parametrize("kind", OURS)
def test_policy_does_not_override_catalog_datasets(kind: str, closing: Any) -> None:
    """A dataset registered in the catalog keeps its own copy mode whatever the runner's policy."""
    seen = Seen()

    def use(model: dict[str, Any]) -> int:
        seen.keep("received", model)
        return 1

    pipe = Pipeline(
        [
            node(lambda: seen.keep("produced", {"items": [1]}), None, "model", name="fit"),
            node(use, "model", "done", name="use"),
        ]
    )
    catalog = DataCatalog({"model": MemoryDataset(copy_mode="deepcopy")})
    closing(RUNNERS[kind](copy_policy="assign")).run(pipe, catalog)

    assert observed_mode(seen.objects["produced"], seen.objects["received"]) == "deepcopy"


@pytest.mark.parametrize("kind", OURS)
def test_runner_exposes_its_policy(kind: str, closing: Any) -> None:
    """copy_policy is the CopyPolicy built from what the runner was given (a given policy as is)."""
    policy = CopyPolicy({"model": "assign"}, default="copy")
    assert closing(RUNNERS[kind](copy_policy=policy)).copy_policy is policy
    assert closing(RUNNERS[kind](copy_policy=MIXED)).copy_policy == CopyPolicy(MIXED)
    assert closing(RUNNERS[kind]()).copy_policy.is_empty


@pytest.mark.parametrize("kind", OURS)
def test_runner_rejects_an_unknown_mode(kind: str) -> None:
    """A runner given an unknown copy mode raises CopyModeError when it is created."""
    with pytest.raises(CopyModeError, match="Invalid copy mode 'deep_copy'"):
        RUNNERS[kind](copy_policy="deep_copy")
