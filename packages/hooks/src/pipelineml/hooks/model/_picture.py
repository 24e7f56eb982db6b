"""A picture of a PipelineML's inference pipeline, as SVG: what a logged model runs.

Nodes are boxes; the data they read are rounded boxes, coloured by what they are: the
request (``input_name``), an artifact the training fitted (with the training node that
wrote it), a parameter, the answer, top to bottom: MLflow's artifact viewer and the docs'
column are narrow (a chain of n nodes drawn left to right is n times wider, and shrunk
there until its text cannot be read). networkx places each row's boxes; this module only
ranks the rows and draws, so the picture needs no system binary and renders in MLflow's
artifact viewer and in any browser.
"""

from __future__ import annotations

from html import escape
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from pipelineml.core._names import is_parameter

if TYPE_CHECKING:
    from pipelineml.core import PipelineML

__all__ = ["pipeline_picture"]

_MARGIN = 24
_BOX_W, _BOX_H = 200, 46
_ACROSS, _DOWN = 230, 70  # one box to the next in a row, one row to the next
# Fill and outline by kind: the request, a fitted artifact, a parameter, the answer, a node.
_STYLE = {
    "input": ("#e8f5e9", "#2e7d32"),
    "artifact": ("#e3f2fd", "#1565c0"),
    "parameter": ("#f5f5f5", "#616161"),
    "output": ("#fff3e0", "#ef6c00"),
    "node": ("#ffffff", "#212121"),
    "training": ("#fafafa", "#9e9e9e"),
    "data": ("#ffffff", "#9e9e9e"),  # passed between inference nodes, in memory
}
_LEGEND = (
    ("input", "data sent to the model"),
    ("artifact", "fitted by training, inside the model"),
    ("parameter", "parameter (a request may override it)"),
    ("output", "the model's answer"),
)


def _label(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _graph(pipeline_ml: PipelineML) -> Any:
    import networkx as nx  # type: ignore[import-untyped]  # no stubs shipped

    graph = nx.DiGraph()
    inference = pipeline_ml.inference
    output = next(iter(inference.outputs()), None)
    producers = {out: n.name for n in pipeline_ml.training.nodes for out in n.outputs}
    passed = {out for n in inference.nodes for out in n.outputs}  # in memory, not artifacts
    for node in inference.nodes:
        graph.add_node(("node", node.name), kind="node", text=node.name)
        for name in node.inputs:
            if name == pipeline_ml.input_name:
                kind = "input"
            elif is_parameter(name) or name == "parameters":
                kind = "parameter"
            elif name in passed:
                kind = "data"
            else:
                kind = "artifact"
            graph.add_node(("data", name), kind=kind, text=name)
            graph.add_edge(("data", name), ("node", node.name))
            if kind == "artifact" and name in producers:
                trainer = ("training", producers[name])
                graph.add_node(trainer, kind="training", text=f"trained by {producers[name]}")
                graph.add_edge(trainer, ("data", name), dashed=True)
        for name in node.outputs:
            graph.add_node(("data", name), kind="output" if name == output else "data", text=name)
            graph.add_edge(("node", node.name), ("data", name))
    return graph


def pipeline_picture(pipeline_ml: PipelineML) -> str:
    """The SVG picture of ``pipeline_ml``'s inference pipeline (a string), top to bottom.

    Logged beside every model a training run logs (``inference_pipeline.svg``, shown by
    MLflow's artifact viewer); in a notebook, ``IPython.display.SVG(pipeline_picture(p))``.
    Each box sits in the row just above the node that reads it (ranked by its longest path
    to the answer), so rows stay narrow: a chain of n nodes is about three boxes wide.
    """
    import networkx as nx

    graph = _graph(pipeline_ml)
    below: dict[Any, int] = {}
    for vertex in reversed(list(nx.topological_sort(graph))):
        below[vertex] = max((below[after] + 1 for after in graph.successors(vertex)), default=0)
    deepest = max(below.values())
    layers: list[list[Any]] = [[] for _ in range(deepest + 1)]
    for vertex in sorted(graph.nodes):
        layers[deepest - below[vertex]].append(vertex)
    # Within a row, a box reading the row above follows what it reads (fewer crossings).
    for upper, layer in pairwise(layers):
        order = {vertex: index for index, vertex in enumerate(upper)}
        layer.sort(
            key=lambda v: min((order[p] for p in graph.predecessors(v) if p in order), default=0)
        )
    return _draw(graph, layers, pipeline_ml.input_name)


def _draw(graph: Any, layers: list[list[Any]], input_name: str) -> str:
    import networkx as nx

    # networkx lays each layer out along one axis: "horizontal" layers are rows.
    positions = nx.multipartite_layout(
        graph, subset_key=dict(enumerate(layers)), align="horizontal"
    )
    widest = max(len(layer) for layer in layers)
    xs = [float(position[0]) for position in positions.values()]
    low, span = min(xs), (max(xs) - min(xs)) or 1.0
    depth = {vertex: index for index, layer in enumerate(layers) for vertex in layer}
    legend_columns = len(_LEGEND) // 2
    width = _MARGIN * 2 + max((widest - 1) * _ACROSS + _BOX_W, legend_columns * 260)
    height = _MARGIN * 2 + len(layers) * _DOWN + 26 * 2

    def place(vertex: Any) -> tuple[float, float]:
        # networkx spreads each row over [min, max]; scale that to the widest row's slots.
        if len(layers[depth[vertex]]) == 1:
            x = _MARGIN + (widest - 1) * _ACROSS / 2  # a lone box: centred
        else:
            x = _MARGIN + (float(positions[vertex][0]) - low) / span * (widest - 1) * _ACROSS
        return x, _MARGIN + depth[vertex] * _DOWN

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" '
        'font-size="13">',
        f"<title>Inference pipeline, input {escape(input_name)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>'
        "</defs>",
    ]
    for source, target, data in graph.edges(data=True):
        (x1, y1), (x2, y2) = place(source), place(target)
        x1, y1, x2 = x1 + _BOX_W / 2, y1 + _BOX_H, x2 + _BOX_W / 2  # bottom to top edge
        dash = ' stroke-dasharray="5,4"' if data.get("dashed") else ""
        parts.append(
            f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" '
            f'stroke="#555"{dash} marker-end="url(#arrow)"/>'
        )
    for vertex in sorted(graph.nodes):
        data = graph.nodes[vertex]
        x, y = place(vertex)
        kind = data["kind"]
        fill, stroke = _STYLE[kind]
        radius = 4 if kind in {"node", "training"} else 14
        dash = ' stroke-dasharray="5,4"' if kind == "training" else ""
        weight = ' font-weight="bold"' if kind == "node" else ""
        parts.append(
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{_BOX_W}" height="{_BOX_H}" rx="{radius}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"{dash}/>'
            f'<text x="{x + _BOX_W / 2:.0f}" y="{y + _BOX_H / 2 + 5:.0f}" text-anchor="middle"'
            f"{weight}>{escape(_label(data['text']))}</text>"
        )
    for index, (kind, text) in enumerate(_LEGEND):
        fill, stroke = _STYLE[kind]
        row, column = divmod(index, legend_columns)
        x = _MARGIN + column * 260
        legend_y = height - _MARGIN - 16 - (1 - row) * 26
        parts.append(
            f'<rect x="{x}" y="{legend_y}" width="14" height="14" rx="4" fill="{fill}" '
            f'stroke="{stroke}"/><text x="{x + 20}" y="{legend_y + 12}" font-size="11">'
            f"{escape(text)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


# Its public import path (docs and tracebacks name it by it).
pipeline_picture.__module__ = "pipelineml.hooks"
