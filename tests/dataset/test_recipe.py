"""Generation recipes (agc.dataset.recipe): the default recipe, validation errors, sample choice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agc.core import physics
from agc.core.errors import AGCError
from agc.dataset.recipe import (
    DEFAULT_RECIPE,
    load_recipe,
    n_files,
    n_generated,
    selected_samples,
)


def test_default_recipe_is_valid_and_complete(recipe: dict[str, Any]) -> None:
    for process, variations in physics.VARIATIONS.items():
        assert set(variations) <= set(recipe["samples"][process]), process
    for mass in (500, 1000, 1500, 2000):
        entry = recipe["samples"][f"zprime_{mass}"]["nominal"]
        assert entry["mass"] == mass
        assert entry["label"] == f"m_Zprime={mass} GeV"
    for process, xsec in physics.XSEC_PB.items():
        for entry in recipe["samples"][process].values():
            assert entry["xsec"] == pytest.approx(xsec, rel=1e-4)
    total = sum(e["events"] for vs in recipe["samples"].values() for e in vs.values())
    # MC statistics small against the pseudo-data's, within the generation budget
    assert 5_000_000 <= total <= 6_500_000
    # preselected jets: below 30 GeV by more than JES (x1.03) and 10 sigma of JER (x1.5)
    assert recipe["preselection"]["jet_pt_min"] * 1.5 <= physics.JET_PT_MIN


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_recipe_errors_name_the_culprit(tmp_path: Path, repo: Path) -> None:
    good = (repo / "inputs" / "embedded.yaml").read_text()
    with pytest.raises(AGCError, match=r"recipe\.yaml: malformed YAML at line \d+"):
        load_recipe(_write(tmp_path, "samples:\n  ttbar: [1, 2\n  x: }\n"))
    with pytest.raises(AGCError, match=r"samples/ttbar/nominal.*'colour'"):
        load_recipe(
            _write(
                tmp_path,
                good.replace(
                    "      topology: ttbar\n", "      topology: ttbar\n      colour: red\n", 1
                ),
            )
        )
    with pytest.raises(AGCError, match="samples/ttbar/nominal/events"):
        load_recipe(_write(tmp_path, good.replace("events: 2400000", "events: -5", 1)))
    with pytest.raises(AGCError, match=r"samples/zprime_500/nominal.*'mass'"):
        load_recipe(_write(tmp_path, good.replace("      mass: 500.0\n", "", 1)))
    with pytest.raises(AGCError, match=r"recipe not found: .*nope\.yaml"):
        load_recipe(tmp_path / "nope.yaml")
    with pytest.raises(AGCError, match=r"<top level>.*'seed'"):
        load_recipe(_write(tmp_path, "version: 1\nsamples: {}\ndetector: {}\n"))


def test_default_recipe_resolves_from_any_folder(tmp_path: Path, repo: Path) -> None:
    """Without a recipe file in the working directory, the repository's default is used."""
    code = "from agc.dataset.recipe import load_recipe; print(len(load_recipe()['samples']))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(load_recipe(repo / DEFAULT_RECIPE)["samples"])


def test_selected_samples(recipe: dict[str, Any]) -> None:
    every = [(p, v) for p, vs in recipe["samples"].items() for v in vs]
    assert selected_samples(recipe, None) == every
    assert selected_samples(recipe, "all") == every
    assert selected_samples(recipe, "ttbar__scaleup, wjets") == [
        ("ttbar", "scaleup"),
        ("wjets", "nominal"),
    ]
    ttbar = [("ttbar", v) for v in recipe["samples"]["ttbar"]]
    assert selected_samples(recipe, ["ttbar", "ttbar__nominal"]) == ttbar  # no duplicates
    with pytest.raises(AGCError, match=r"unknown sample 'ttbar__up'.*known: ttbar__nominal"):
        selected_samples(recipe, "ttbar__up")
    with pytest.raises(AGCError, match="no sample selected"):
        selected_samples(recipe, " , ")


def test_events_and_files_of_a_sample() -> None:
    assert n_generated(2_400_000, 0.01) == 24_000
    assert n_generated(10, 0.001) == 1  # never an empty sample
    assert n_files({"files": 6}, 24_000) == 6
    assert n_files({}, 100) == 1
    assert n_files({"files": 6}, 4) == 4  # at most one file per event
