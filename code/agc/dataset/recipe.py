"""Generation recipes: loading and validation, and the samples, events and files they ask for.

A recipe (``inputs/embedded.yaml``, schema ``schemas/recipe.schema.json``) names the samples
(the nine of the physics card plus Z' -> ttbar signals), their event counts, files,
cross-sections and the physics knobs of each, the detector model, the seed and, optionally, a
preselection.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from agc.core import resources
from agc.core.errors import AGCError
from agc.core.fileio import read_input_text
from agc.core.validation import validate
from agc.dataset.manifest import sample_key

__all__ = [
    "DEFAULT_RECIPE",
    "load_recipe",
    "n_files",
    "n_generated",
    "selected_samples",
    "validate_recipe",
]

#: The recipe used when none is given (in the working directory, else the analysis' own file).
DEFAULT_RECIPE = "inputs/embedded.yaml"


def load_recipe(path: str | os.PathLike[str] = DEFAULT_RECIPE) -> dict[str, Any]:
    """Read a generation recipe (YAML) and validate it against ``recipe.schema.json``.

    Raises :class:`AGCError` naming the file (and line for malformed YAML, the key for a
    schema violation such as an unknown key or a negative event count).
    """
    path = resources.resolve(path)
    text = read_input_text(path, "recipe")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise AGCError(f"{path}: malformed YAML{where}: {problem}") from None
    return validate_recipe(data, str(path))


def validate_recipe(data: Any, source: str = "recipe") -> dict[str, Any]:
    """Validate a recipe given as a dict; return it (raises :class:`AGCError` naming the key)."""
    validate(data, "recipe", source)
    for process, variations in data["samples"].items():
        for variation, cfg in variations.items():
            if cfg.get("files", 1) > cfg["events"]:
                raise AGCError(
                    f"{source}: invalid value at 'samples/{process}/{variation}/files': "
                    f"{cfg['files']} files for {cfg['events']} events"
                )
    return data


def selected_samples(
    recipe: dict[str, Any], samples: list[str] | str | None
) -> list[tuple[str, str]]:
    """(process, variation) pairs of the recipe named by ``samples``, in recipe order.

    ``samples``: ``None``/``"all"`` (every sample), or names (a list, or comma-separated) that are
    a process (all its variations) or a ``process__variation``; raises :class:`AGCError` for an
    unknown name or an empty selection.
    """
    every = [(p, v) for p, vs in recipe["samples"].items() for v in vs]
    if samples is None or samples in ("all", ["all"]):
        return every
    names = [s.strip() for s in samples.split(",")] if isinstance(samples, str) else list(samples)
    chosen: list[tuple[str, str]] = []
    for name in filter(None, names):
        process, sep, variation = name.partition("__")
        pairs = [(p, v) for p, v in every if p == process and (not sep or v == variation)]
        if not pairs:
            known = ", ".join(sample_key(p, v) for p, v in every)
            raise AGCError(f"unknown sample '{name}' in the recipe; known: {known}")
        chosen.extend(pair for pair in pairs if pair not in chosen)
    if not chosen:
        raise AGCError("no sample selected: 'samples' is empty")
    return chosen


def n_generated(events: int, scale: float) -> int:
    """Events to generate for a sample of ``events`` in the recipe at ``scale`` (at least 1)."""
    return max(1, round(events * scale))


def n_files(cfg: dict[str, Any], n_events: int) -> int:
    """Files of a sample: the recipe's ``files`` (default 1), at most one per event."""
    return min(int(cfg.get("files", 1)), n_events)
