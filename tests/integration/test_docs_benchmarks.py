"""docs/benchmarks.md is the render of benchmarks/results/latest.json, with its charts.

The page's results block is generated (``python benchmarks/render.py`` re-renders it and
redraws the charts, with matplotlib, which only ``nox -s bench`` installs). These tests do
not draw: they check that the page is today's render of the results, that it embeds the
four charts, and that the charts it names are committed SVG files.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
PAGE = ROOT / "docs" / "benchmarks.md"
IMAGE = re.compile(r"!\[(?P<alt>[^\]]+)\]\((?P<path>images/bench/[^)]+\.svg)\)")


@pytest.fixture(scope="module")
def bench_modules() -> tuple[object, object]:
    """``render`` and ``charts``, imported as the scripts import each other."""
    sys.path.insert(0, str(BENCH))
    try:
        import charts
        import render
    finally:
        sys.path.remove(str(BENCH))
    return render, charts


def test_the_page_is_the_render_of_the_latest_results(bench_modules: tuple[object, object]) -> None:
    """Re-rendering latest.json gives the committed page's block (no hand edits, no drift)."""
    render, _ = bench_modules
    results = json.loads((BENCH / "results" / "latest.json").read_text(encoding="utf-8"))
    page = PAGE.read_text(encoding="utf-8")
    block = page.split(render.START, 1)[1].split(render.END, 1)[0]  # type: ignore[attr-defined]

    assert block == f"\n\n{render.render(results)}\n"  # type: ignore[attr-defined]


def test_the_page_embeds_the_four_charts_and_they_exist() -> None:
    """Figures 1, 4, 7 and 9 each show a chart, an SVG committed under docs/images/bench/."""
    page = PAGE.read_text(encoding="utf-8")
    found = IMAGE.findall(page)
    sections = re.split(r"^### ", page, flags=re.MULTILINE)
    charted = {int(section.split(".", 1)[0]) for section in sections[1:] if IMAGE.search(section)}

    assert charted == {1, 4, 7, 9}
    assert len(found) == 4
    for _, path in found:
        root = ElementTree.parse(PAGE.parent / path).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg", path
        assert float(root.get("width", "0").removesuffix("pt")) * 4 / 3 <= 800, path


def test_the_charts_carry_no_date(bench_modules: tuple[object, object]) -> None:
    """Deterministic files: no creation date in their metadata (a re-render changes nothing)."""
    _, charts = bench_modules
    for name, _alt in charts.CHARTS.values():  # type: ignore[attr-defined]
        text = (PAGE.parent / "images" / "bench" / name).read_text(encoding="utf-8")
        assert "<dc:date>" not in text, name


def test_figure_1_is_charted_per_logging_configuration_when_rows_carry_one(
    bench_modules: tuple[object, object],
) -> None:
    """Rows with ``logging`` are grouped by it (one panel each); rows without, one panel."""
    _, charts = bench_modules
    plain = [{"pipeline": "3-node chain"}, {"pipeline": "50-node chain"}]
    logged = [{**row, "logging": value} for value in ("default", "off") for row in plain]

    assert charts.overhead_groups(plain) == {None: plain}  # type: ignore[attr-defined]
    groups = charts.overhead_groups(logged)  # type: ignore[attr-defined]
    assert list(groups) == ["default", "off"]
    assert [len(rows) for rows in groups.values()] == [2, 2]


def _tables(page: str) -> list[list[list[str]]]:
    """Every Markdown table of ``page``: rows of cells (the separator row left out)."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*page.splitlines(), ""]:
        if line.startswith("|"):
            if not line.startswith("|---"):
                current.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif current:
            found.append(current)
            current = []
    return found


# Measured in a headless browser at 1280 px (mkdocs-material, benchmarks.md built alone):
# with at most 7 columns and no unbreakable cell text wider than 36 characters, every
# table of the page is at most as wide as the content column (688 px).
MAX_COLUMNS, MAX_WORD = 7, 36


def test_the_benchmark_tables_fit_the_page() -> None:
    """No table has more columns, or a longer unbreakable word, than the column holds."""
    wide = []
    for rows in _tables(PAGE.read_text(encoding="utf-8")):
        words = [word for row in rows for cell in row for word in cell.split()]
        longest = max(words, key=len, default="")
        if len(rows[0]) > MAX_COLUMNS or len(longest) > MAX_WORD:
            wide.append(f"{rows[0]}: {len(rows[0])} columns, longest word {longest!r}")

    assert wide == []
