"""The user documentation: a short README that states the current result, links that resolve, and
no process history (issue numbers) in the README, docs/, the changelog or the Makefile."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
#: The README is a user guide: at most this many lines; the details live in docs/.
README_MAX_LINES = 200
#: The fit of the embedded default that the regression tests hold (tests/stats/test_fit.py).
FIT_REFERENCE = REPO / "tests" / "stats" / "test_fit" / "fit_results_embedded.json"
#: The pages whose relative links must resolve.
PAGES = [README, REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
#: Markdown links and images: [text](target) and ![alt](target).
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
#: An issue or pull-request reference such as "issue #21", "(#15)" or "#18-#20".
ISSUE_REFERENCE = re.compile(r"(?i)\bissues?\s*#\d+|(?<![\w&/])#\d+\b")


def test_readme_is_a_short_guide() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    first_screen = "\n".join(lines[:40])
    assert "make run" in first_screen
    assert "make test" in first_screen


def _decimals(text: str) -> int:
    """Digits after the decimal point of a number as written."""
    return -Decimal(text).as_tuple().exponent


def test_readme_states_the_result_the_reference_fit_gives() -> None:
    """The POI value and uncertainty in the README are the reference fit's, rounded as written."""
    match = re.search(r"ttbar_norm = ([0-9.]+) ± ([0-9.]+)", README.read_text(encoding="utf-8"))
    assert match, "README.md must state 'ttbar_norm = value ± uncertainty'"
    poi = json.loads(FIT_REFERENCE.read_text(encoding="utf-8"))["poi"]
    for written, exact in zip(match.groups(), (poi["bestfit"], poi["uncertainty"]), strict=True):
        half_unit = 0.5 * 10.0 ** -_decimals(written)
        assert abs(float(written) - exact) <= half_unit + 1e-12, (written, exact)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page: Path) -> None:
    targets = [t for t in LINK.findall(page.read_text(encoding="utf-8")) if "://" not in t]
    missing = [
        t for t in targets if t.split("#")[0] and not (page.parent / t.split("#")[0]).exists()
    ]
    assert not missing, f"{page.name} links to missing files: {missing}"


@pytest.mark.parametrize(
    "page", [*PAGES, REPO / "Makefile"], ids=lambda p: str(p.relative_to(REPO))
)
def test_no_issue_numbers(page: Path) -> None:
    found = ISSUE_REFERENCE.findall(page.read_text(encoding="utf-8"))
    assert not found, f"{page.name} names issues (history belongs in git log): {found}"
