"""The docs' generated pictures are the ones their code draws today (they cannot drift).

``docs/images/training-and-inference.svg`` (the overview's picture) is drawn by
``pipelineml.hooks.pipeline_picture`` (the picture logged beside every model) from the
example project's PipelineML, the one ``kedro run --pipelines=training`` logs. A change to the example's pipelines or to
the drawing fails here until the file is redrawn:
``python -m tests.integration.test_docs_images`` (from the repository's root).
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_SRC = ROOT / "examples" / "breast_cancer" / "src"
OVERVIEW = ROOT / "docs" / "images" / "training-and-inference.svg"
# The widest picture the content column shows at its natural size at 1280 px.
COLUMN_PX = 800


def overview_svg() -> str:
    """The overview's picture, drawn from the example's ``training`` pipeline."""
    from pipelineml.hooks import pipeline_picture

    if str(EXAMPLE_SRC) not in sys.path:
        sys.path.insert(0, str(EXAMPLE_SRC))
    registry = importlib.import_module("breast_cancer.pipeline_registry")
    return pipeline_picture(registry.register_pipelines()["training"]) + "\n"


def test_the_overview_picture_is_the_one_the_example_draws() -> None:
    """The committed SVG is byte for byte what the drawing code makes of the example."""
    assert OVERVIEW.read_text(encoding="utf-8") == overview_svg(), (
        "docs/images/training-and-inference.svg is stale: "
        "run `python -m tests.integration.test_docs_images`"
    )


def test_the_overview_picture_is_drawn_the_same_twice() -> None:
    """Drawing is deterministic (no ids, dates or set order leak into the file)."""
    assert overview_svg() == overview_svg()


def test_the_overview_picture_fits_the_column_and_shows_the_example() -> None:
    """Readable at 1280 px: no wider than the column; every inference node is in it."""
    root = ElementTree.fromstring(OVERVIEW.read_text(encoding="utf-8"))
    labels = {str(text.text) for text in root.iter("{http://www.w3.org/2000/svg}text")}

    assert int(root.get("width", "0")) <= COLUMN_PX
    assert {"impute", "scale", "predict", "instances", "predictions"} <= labels
    assert {"trained by fit_imputer", "trained by train_model"} <= labels


def test_the_overview_page_shows_the_picture() -> None:
    """docs/index.md embeds the picture (and no longer draws the pipelines in ASCII)."""
    page = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")

    assert re.search(r"!\[[^\]]+\]\(images/training-and-inference\.svg\)", page)
    assert "─►" not in page


if __name__ == "__main__":
    OVERVIEW.write_text(overview_svg(), encoding="utf-8")
    print(f"wrote {OVERVIEW.relative_to(ROOT)}")
