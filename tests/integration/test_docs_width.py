"""The documentation's code blocks fit the page: no line a reader has to scroll sideways to.

mkdocs-material's content column holds about 88 characters of code at 1280 px. A line wider
than that inside a fenced block is cut off (a command the reader copies by eye loses its
end), so every block's lines are at most ``MAX_WIDTH`` characters, except in the output
of executed snippets: a ``text title="Output"`` block, what ``test_docs_snippets.py`` ran
and compares, which cannot be reformatted without lying and is wrapped by the theme
instead (``docs/stylesheets/output.css``). Other captured output (``Error``,
``Response``, ``Log``, ``Standard output``, ``Output of demo.py``...) is wrapped on the
page itself, at spaces, continued with an indent (a command with a backslash); the tests
that compare such a block with a real run compare it modulo that wrapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
MAX_WIDTH = 88

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
CAPTURED_OUTPUT = re.compile(r'^text\s+title="Output"$')

# Pages another branch is rewriting at the same time; each is fitted when that branch is
# merged, and leaves this set then (the set shrinking to nothing is the goal).
NOT_YET_FITTED: set[str] = set()


@dataclass(frozen=True)
class WideLine:
    """A code line wider than the page: where it is, and how wide."""

    where: str
    width: int

    def __str__(self) -> str:
        return f"{self.where}: {self.width} characters (at most {MAX_WIDTH})"


def wide_lines(text: str, name: str) -> list[WideLine]:
    """The lines of ``text`` (a Markdown page called ``name``) that do not fit.

    Only lines inside fenced blocks count (prose and tables are wrapped by the browser),
    and not those of executed snippets' ``Output`` blocks.
    """
    found: list[WideLine] = []
    fence: str | None = None
    output = False
    for number, line in enumerate(text.splitlines(), start=1):
        if fence is None:
            opening = FENCE.match(line)
            if opening is not None:
                fence = opening["fence"]
                output = CAPTURED_OUTPUT.match(opening["info"].strip()) is not None
            continue
        if line.strip() == fence:
            fence = None
            continue
        if not output and len(line) > MAX_WIDTH:
            found.append(WideLine(f"docs/{name}:{number}", len(line)))
    return found


def _pages() -> list[Path]:
    """Every page written by hand (``docs/reference/`` is generated from docstrings)."""
    return [
        path
        for path in sorted(DOCS.rglob("*.md"))
        if not path.relative_to(DOCS).as_posix().startswith("reference/")
    ]


def test_every_code_line_of_the_docs_fits_the_page() -> None:
    """No line of a fenced block (snippets' Output aside) is wider than 88 characters."""
    found = [
        str(wide)
        for path in _pages()
        if path.relative_to(DOCS).as_posix() not in NOT_YET_FITTED
        for wide in wide_lines(path.read_text(encoding="utf-8"), path.relative_to(DOCS).as_posix())
    ]
    assert found == [], "Code lines too wide for the page:\n" + "\n".join(found)


def test_pages_not_yet_fitted_exist() -> None:
    """A page left out of the check is a real page (a rename cannot hide one for good)."""
    assert sorted(name for name in NOT_YET_FITTED if not (DOCS / name).is_file()) == []


@pytest.mark.parametrize(
    ("info", "flagged"),
    [
        ("python", True),
        ("bash", True),
        ("text", True),  # a tree or a diagram: shown, so it must fit
        ('yaml title="conf/base/catalog.yml"', True),  # a file, not output
        ('text title="Output"', False),
        ('text title="Response"', True),  # shown output, wrapped on the page
        ('text title="Error"', True),
        ('text title="Log"', True),
        ('text title="Standard output"', True),
        ('text title="Output of demo.py"', True),
    ],
)
def test_wide_lines_names_the_line_and_its_width(info: str, flagged: bool) -> None:
    """An 89-character line is reported with file:line and width, unless it is output."""
    page = f"# Page\n\n```{info}\n{'x' * 88}\n{'y' * 89}\n```\n\n{'z' * 200}\n"

    found = wide_lines(page, "page.md")

    assert [str(wide) for wide in found] == (
        ["docs/page.md:5: 89 characters (at most 88)"] if flagged else []
    )


def test_wide_lines_follows_fences_of_any_length_and_indentation() -> None:
    """A longer fence holds a shorter one; an indented block (in a list) is checked too."""
    page = "\n".join(
        [
            "````markdown",
            "```python",
            "a" * 90,
            "```",
            "````",
            "* item",
            "",
            "    ```bash",
            "    " + "b" * 90,
            "    ```",
            "c" * 90,
        ]
    )

    assert [wide.where for wide in wide_lines(page, "p.md")] == ["docs/p.md:3", "docs/p.md:9"]
