"""Which nodes share a Dask task (``_dask.fusion``), and the runner's ``fuse`` setting.

Planning needs no cluster (nor ``distributed``): these tests run in ``nox -s isolation``
too. What a cluster does with the groups is in ``test_dask_fusion_cluster.py``.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from kedro.pipeline import Pipeline, node

from pipelineml.runners import DaskRunner, SequentialRunner
from pipelineml.runners._dask.fusion import Group, fuse
from pipelineml.runners._plan import Plan, build_plan
from tests._support import dask_nodes


def chain(length: int, first: str = "x0", prefix: str = "n") -> list[Any]:
    """``first -> n0 -> x1 -> n1 -> ... -> x<length>`` through ``add_one`` nodes."""
    names = [first, *(f"x{i + 1}" for i in range(length))]
    return [
        node(dask_nodes.add_one, names[i], names[i + 1], name=f"{prefix}{i}") for i in range(length)
    ]


def named_groups(plan: Plan, groups: tuple[Group, ...]) -> list[list[str]]:
    """Each group as its nodes' names, in the order the task runs them."""
    return [[plan.steps[i].node.name for i in group.indices] for group in groups]


def plan_of(*nodes: Any) -> Plan:
    """The plan of a pipeline of ``nodes``."""
    return build_plan(Pipeline(list(nodes)))


def test_a_linear_in_memory_chain_is_one_group() -> None:
    """Five in-memory nodes in a line: one group, in order, handing on the last output."""
    plan = plan_of(*chain(5))
    groups = fuse(plan, persisted=())
    assert named_groups(plan, groups) == [["n0", "n1", "n2", "n3", "n4"]]
    (group,) = groups
    assert group.parents == ()
    assert group.exported == ("x5",)
    # Each intermediate is dropped once its one reader is done; x5 is the result.
    assert group.release_after == (("x0",), ("x1",), ("x2",), ("x3",), ("x4",))


def test_fuse_disabled_gives_a_group_per_node() -> None:
    """fuse(enabled=False): one group per node, each reading the one before it."""
    plan = plan_of(*chain(3))
    groups = fuse(plan, persisted=(), enabled=False)
    assert named_groups(plan, groups) == [["n0"], ["n1"], ["n2"]]
    assert [g.parents for g in groups] == [(), (0,), (1,)]
    assert [g.exported for g in groups] == [("x1",), ("x2",), ("x3",)]


def test_branches_and_joins_cut_chains() -> None:
    """A branch ends a chain (its children may run in parallel); a join starts one."""
    plan = plan_of(
        *chain(2, "a", "p"),  # a -> p0 -> x1 -> p1 -> x2
        node(dask_nodes.add_one, "x2", "b1", name="left0"),
        node(dask_nodes.add_one, "b1", "b2", name="left1"),
        node(dask_nodes.double, "x2", "c1", name="right0"),
        node(dask_nodes.double, "c1", "c2", name="right1"),
        node(dask_nodes.total, ["b2", "c2"], "d1", name="join"),
        node(dask_nodes.add_one, "d1", "d2", name="after_join"),
    )
    groups = fuse(plan, persisted=())
    named = named_groups(plan, groups)
    assert sorted(named) == [
        ["join", "after_join"],
        ["left0", "left1"],
        ["p0", "p1"],
        ["right0", "right1"],
    ]
    number = {tuple(names): n for n, names in enumerate(named)}
    assert groups[number["join", "after_join"]].parents == tuple(
        sorted((number["left0", "left1"], number["right0", "right1"]))
    )
    # The branch point's output is read by two groups: it is handed on.
    assert groups[number["p0", "p1"]].exported == ("x2",)


def test_a_persisted_output_cuts_the_chain() -> None:
    """A node saving a persisted dataset ends its chain; the next node starts one."""
    plan = plan_of(*chain(4))
    groups = fuse(plan, persisted={"x2"})
    assert named_groups(plan, groups) == [["n0", "n1"], ["n2", "n3"]]
    # x2 lives in the catalog: the first group hands nothing on, the second reads it
    # there but still waits for the first.
    assert groups[0].exported == ()
    assert groups[1].parents == (0,)


def test_free_outputs_inside_a_chain_are_handed_on() -> None:
    """A free in-memory output of a node inside a chain comes out of the chain's task."""
    plan = plan_of(
        node(dask_nodes.with_pid, "a", "info", name="first"),
        node(lambda info: (info["value"], info["pid"]), "info", ["value", "pid"], name="split"),
        node(dask_nodes.add_one, "value", "result", name="last"),
    )
    (group,) = fuse(plan, persisted=())
    assert named_groups(plan, (group,)) == [["first", "split", "last"]]
    assert set(group.exported) == {"pid", "result"}
    assert "pid" not in {name for names in group.release_after for name in names}


def test_free_inputs_read_inside_a_chain_do_not_cut_it() -> None:
    """A node in the middle of a chain may read a free input (a parameter, a file)."""
    plan = plan_of(
        node(dask_nodes.add_one, "a", "b", name="first"),
        node(dask_nodes.total, ["b", "params:offset"], "c", name="second"),
        node(dask_nodes.double, "c", "d", name="third"),
    )
    assert named_groups(plan, fuse(plan, persisted={"params:offset"})) == [
        ["first", "second", "third"]
    ]
    assert named_groups(plan, fuse(plan, persisted=())) == [["first", "second", "third"]]


def test_independent_chains_stay_apart() -> None:
    """Two chains that share nothing are two groups, free to run side by side."""
    plan = plan_of(
        *chain(3, "a", "left"),
        *(
            node(dask_nodes.add_one, f"y{i}" if i else "b", f"y{i + 1}", name=f"right{i}")
            for i in range(3)
        ),
    )
    groups = fuse(plan, persisted=())
    assert sorted(named_groups(plan, groups)) == [
        ["left0", "left1", "left2"],
        ["right0", "right1", "right2"],
    ]
    assert all(group.parents == () for group in groups)


def test_a_node_with_two_outputs_read_by_two_nodes_is_a_branch() -> None:
    """Two children reading different outputs of one node: still a branch, cut there."""
    plan = plan_of(
        node(lambda a: (a, a), "a", ["l", "r"], name="fork"),
        node(dask_nodes.add_one, "l", "l2", name="left"),
        node(dask_nodes.add_one, "r", "r2", name="right"),
    )
    assert sorted(named_groups(plan, fuse(plan, persisted=()))) == [
        ["fork"],
        ["left"],
        ["right"],
    ]


def test_fused_groups_run_as_the_sequential_runner_does() -> None:
    """Every node is in exactly one group, and groups come after the groups they read."""
    plan = plan_of(
        *chain(3, "a", "p"),
        node(dask_nodes.add_one, "x3", "b", name="b"),
        node(dask_nodes.add_one, "x3", "c", name="c"),
        node(dask_nodes.total, ["b", "c", "a"], "d", name="d"),
    )
    groups = fuse(plan, persisted=())
    indices = sorted(i for group in groups for i in group.indices)
    assert indices == list(range(len(plan.steps)))
    for number, group in enumerate(groups):
        assert all(parent < number for parent in group.parents)


# ----------------------------------------------------------------- the runner's setting
def test_fuse_is_on_by_default_and_carried_by_repr_settings_and_pickling() -> None:
    """fuse=False shows in repr() and settings(), survives pickling and a rebuild."""
    assert "fuse=True" in repr(DaskRunner("tcp://127.0.0.1:1"))
    runner = DaskRunner("tcp://127.0.0.1:1", fuse=False)
    assert repr(runner) == "DaskRunner('tcp://127.0.0.1:1', retries=0, fuse=False)"
    assert runner.settings()["fuse"] is False
    assert "fuse=False" in repr(pickle.loads(pickle.dumps(runner)))
    rebuilt = DaskRunner(**runner.settings())
    assert rebuilt.settings() == runner.settings()
    # str() stays the dotted path Kedro records as the run's runner.
    assert str(runner) == "pipelineml.runners.DaskRunner"


def test_a_runner_pickled_before_fuse_existed_fuses() -> None:
    """State without ``_fuse`` (an older pickle) unpickles to a runner that fuses."""
    runner = DaskRunner("tcp://127.0.0.1:1")
    state = runner.__getstate__()
    del state["_fuse"]
    old = DaskRunner.__new__(DaskRunner)
    old.__setstate__(state)
    assert old.settings()["fuse"] is True


@pytest.mark.parametrize("value", ["false", 0, None])
def test_fuse_must_be_a_bool(value: Any) -> None:
    """A fuse that is not True or False is refused, naming the value."""
    with pytest.raises(ValueError, match=rf"fuse must be True or False, got {value!r}"):
        DaskRunner(fuse=value)


def test_steps_pickle_without_their_compiled_call() -> None:
    """A step pickles as its node (the call is compiled again) and runs the same."""
    plan = SequentialRunner().plan(Pipeline(chain(2)))
    copy = pickle.loads(pickle.dumps(plan.steps))
    assert [s.node for s in copy] == [s.node for s in plan.steps]
    assert copy[1].call({"x1": 4}) == plan.steps[1].call({"x1": 4}) == {"x2": 5}
    assert [s.release_after for s in copy] == [s.release_after for s in plan.steps]
