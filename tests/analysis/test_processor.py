"""The coffea processor (agc.analysis.processor) on the real CMS file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coffea.nanoevents import NanoEventsFactory

from agc.analysis.processor import AGCProcessor, AGCSchema
from agc.core import physics


def test_processor_reads_only_the_needed_branches(real_nanoaod: Path) -> None:
    accessed: list[Any] = []
    events = NanoEventsFactory.from_root(
        {str(real_nanoaod): "Events"},
        schemaclass=AGCSchema,
        mode="virtual",
        access_log=accessed,
        metadata={"dataset": "ttbar__nominal", "process": "ttbar", "variation": "nominal"},
    ).events()
    AGCProcessor().process(events)
    branches = {a.branch for a in accessed}
    print("branches read:", sorted(branches))
    assert branches <= set(physics.BRANCHES_READ)
    assert {"Jet_pt", "Muon_pfRelIso04_all", "event"} <= branches
