"""The serial workflow (reana.yaml) run once on the small dataset with the small model: the
reference that every other engine's run (CWL in test_workflow.py, Snakemake in test_snakemake.py),
in a copy of its workspace, is compared with, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import EngineReference, run_serial_reference


@pytest.fixture(scope="session")
def serial_reference(
    small_embedded_manifest: Path, tmp_path_factory: pytest.TempPathFactory
) -> EngineReference:
    """reana.yaml's every step on the small dataset without the ML extension and with the small
    model (:func:`engine_helpers.write_engine_model`), once per session (see
    :func:`engine_helpers.run_serial_reference`): the ML fit of 175 parameters and the impact
    ranking of the default model's 33 on the 1 % dataset's sparse templates take minutes; the
    engines' agreement with the default model and the ML step is checked on the embedded default
    (``make test-full``)."""
    reference = run_serial_reference(
        small_embedded_manifest,
        tmp_path_factory.mktemp("serial"),
        use_inference=False,
        small_model=True,
    )
    print(f"\nserial workflow: {reference.run.seconds:.1f} s {reference.run.steps}")
    return reference
