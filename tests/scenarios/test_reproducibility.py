"""Reproducibility proof: regression references of the embedded default and a determinism matrix
on the small dataset.

References (regenerate only on purpose, with ``--force-regen``, and say why in the commit):
``tests/scenarios/test_reproducibility/test_histograms_reference.npz`` (every histogram's values
and variances, rtol 1e-12) and ``test_embedded_cutflow_reference.yml`` (``make test-full``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from agc.core.config import ProcessingConfig
from agc.processing.histograms import run_histograms
from agc.processing.output import read_histograms
from agc.publish import provenance

#: A subset that still exercises every code path: nominal with all object/weight variations,
#: an alternative ttbar sample, W+jets scale variations and a tiny sample.
MATRIX_SAMPLES = "ttbar__nominal,ttbar__PS_var,wjets__nominal,single_top_s_chan__nominal"


def content_hash(path: Path) -> str:
    """sha256 over every histogram's name, edges, values and variances (not the file's bytes)."""
    digest = hashlib.sha256()
    for name, histogram in sorted(read_histograms(path).items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(histogram.axes[0].edges, dtype="<f8").tobytes())
        digest.update(np.ascontiguousarray(histogram.values(flow=True), dtype="<f8").tobytes())
        digest.update(np.ascontiguousarray(histogram.variances(flow=True), dtype="<f8").tobytes())
    return digest.hexdigest()


def test_histograms_reference(embedded_histograms: Path, ndarrays_regression) -> None:
    arrays = {}
    for name, histogram in sorted(read_histograms(embedded_histograms).items()):
        arrays[f"{name}.values"] = histogram.values(flow=True)
        arrays[f"{name}.variances"] = histogram.variances(flow=True)
    assert len(arrays) > 2 * 100, "expected every region x sample x variation histogram"
    ndarrays_regression.check(arrays, default_tolerance={"rtol": 1e-12, "atol": 0.0})


def test_embedded_cutflow_reference(embedded_histograms: Path, data_regression) -> None:
    cutflow = json.loads((embedded_histograms.parent / "cutflow.json").read_text())
    data_regression.check(cutflow)


@pytest.fixture(scope="module")
def matrix_reference(
    small_embedded_manifest: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    out = tmp_path_factory.mktemp("matrix") / "histograms.root"
    run_histograms(
        small_embedded_manifest,
        out,
        processing=ProcessingConfig(executor="iterative", checkpoints=False),
        samples=MATRIX_SAMPLES,
    )
    return content_hash(out), hashlib.sha256(out.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("executor", "workers", "chunksize"),
    [  # the small dataset: about 1,000 events per ttbar or W+jets file, tens of s-channel
        ("iterative", 1, 300),
        ("iterative", 1, 1_000),
        ("iterative", 1, 100_000_000),  # whole file per chunk
        ("futures", 1, 1_000),
        ("futures", 2, 777),
        ("dask", 1, 1_000),
        ("dask", 2, 500),
    ],
)
def test_determinism_matrix(
    small_embedded_manifest: Path,
    tmp_path: Path,
    matrix_reference: tuple[str, str],
    executor: str,
    workers: int,
    chunksize: int,
) -> None:
    out = tmp_path / "histograms.root"
    run_histograms(
        small_embedded_manifest,
        out,
        processing=ProcessingConfig(
            executor=executor, workers=workers, chunksize=chunksize, checkpoints=False
        ),
        samples=MATRIX_SAMPLES,
    )
    content, file_hash = content_hash(out), hashlib.sha256(out.read_bytes()).hexdigest()
    print(
        f"{executor:9s} workers={workers} chunksize={chunksize:>9d}: content {content[:16]} file {file_hash[:16]}"
    )
    assert content == matrix_reference[0]
    assert file_hash == matrix_reference[1], (
        "histograms.root must be byte-identical, not only equal in content"
    )


def test_repeated_runs_give_identical_provenance(
    small_embedded_manifest: Path, run_outputs: Path, tmp_path: Path
) -> None:
    """Two runs of the same inputs: same product checksums, same provenance apart from times."""
    from agc.dataset.manifest import load_manifest

    records = []
    for name in ("first", "second"):
        out = tmp_path / name
        out.mkdir()
        for product in ("histograms.root", "cutflow.json"):
            (out / product).write_bytes((run_outputs / product).read_bytes())
        record = provenance.collect(
            {"inputs": str(small_embedded_manifest.name)},
            manifest=load_manifest(small_embedded_manifest),
            manifest_path=small_embedded_manifest,
        )
        record["outputs"] = provenance.product_checksums(out)
        records.append(provenance.without_times(record))
    assert records[0] == records[1]
    files = records[0]["inputs"]["files"]
    assert files
    assert all(item["sha256"] and not item["path"].startswith("/") for item in files)
    assert set(records[0]["outputs"]) == {"histograms.root", "cutflow.json"}
    assert records[0]["environment"]["lock_sha256"]
