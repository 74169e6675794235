"""Cross-check: every histogram of ``histograms.root`` equals an independent plain-NanoEvents
implementation of the AGC ``TtbarAnalysis.process`` (tests/agc_reference.py) to 1e-9 relative.

The card's samples of the session's small dataset (``small_embedded_manifest``, the embedded
recipe at 1 %: from 18 events of single top s-channel to 7,535 of ttbar) are processed by the
package's histogram stage and by the reference, and every histogram name -- nominal, object
variations (pt_scale_up, pt_res_up with the package's seeded JER factors injected), b-tag and
W+jets weight variations, ttbar alternative samples, pseudo-data -- is compared bin by bin,
values and variances, flow bins included.

The ML extension is compared per event: in every 4j2b event of the ttbar files of the session's
small dataset (``small_embedded_manifest``), for the nominal and both jet-pT variations, the
package chooses the AGC's assignment (the AGC's code in its dtypes, ``agc_reference.ml_choices``,
run with numpy's AVX-512 loops off) and fills the same 20 feature values, bit for bit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from agc_reference import SAMPLES, reference_histograms
from cpu_helpers import without_avx512

from agc.analysis.assignment import best_assignments, lepton_columns
from agc.analysis.inference import load_models
from agc.analysis.jer import jer_factors_flat
from agc.analysis.processor import AGCSchema, collections
from agc.analysis.selection import select
from agc.core import physics
from agc.core.config import ProcessingConfig
from agc.dataset.manifest import load_manifest, write_manifest
from agc.processing.histograms import run_histograms
from agc.processing.output import read_histograms

RTOL = 1e-9

NOMINAL_LIKE = (
    "nominal",
    "pt_scale_up",
    "pt_res_up",
    *(f"btag_var_{i}_{d}" for i in range(4) for d in ("up", "down")),
)


def expected_names() -> list[str]:
    """The full set of histogram names of the card's samples (AGC naming)."""
    names = set()
    for region in ("4j1b", "4j2b"):
        for process, variations in SAMPLES.items():
            for variation in NOMINAL_LIKE:
                names.add(
                    f"{region}_{process}"
                    if variation == "nominal"
                    else f"{region}_{process}_{variation}"
                )
            for variation in variations[1:]:
                names.add(f"{region}_{process}_{variation}")
        names |= {f"{region}_wjets_scale_var_up", f"{region}_wjets_scale_var_down"}
        names.add(f"{region}_pseudodata")
    return sorted(names)


@pytest.fixture(scope="module")
def dataset(small_embedded_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's small dataset restricted to the card's samples of :data:`SAMPLES` (its
    files by absolute path, as :func:`~agc.dataset.manifest.load_manifest` resolves them)."""
    manifest = load_manifest(small_embedded_manifest)
    kept = {p: {v: manifest[p][v] for v in variations} for p, variations in SAMPLES.items()}
    return write_manifest(tmp_path_factory.mktemp("crosscheck") / "manifest.json", kept)


def relative_difference(ours: np.ndarray, ref: np.ndarray) -> float:
    """Largest |ours - ref| / |ref| over the bins (0 where both are 0; inf where only ref is)."""
    diff = np.abs(ours - ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.abs(ref))
    return float(rel.max())


def test_every_histogram_equals_the_plain_nanoevents_reference(
    dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "histograms.root"
    run_histograms(
        dataset, out, processing=ProcessingConfig(executor="iterative", checkpoints=False)
    )
    ours = read_histograms(out)
    reference = reference_histograms(dataset)

    expected = expected_names()
    print(
        f"\ncross-check: {len(expected)} histograms compared (values and variances, rtol {RTOL}):"
    )
    print(" ".join(expected))
    assert sorted(ours) == expected
    assert sorted(reference) == expected

    failures = []
    worst = {"values": 0.0, "variances": 0.0}
    for name in expected:
        h = ours[name]
        ref_values, ref_variances = reference[name]
        for kind, mine, ref in (
            ("values", h.values(flow=True), ref_values),
            ("variances", h.variances(flow=True), ref_variances),
        ):
            rel = relative_difference(mine, ref)
            worst[kind] = max(worst[kind], rel)
            if not rel <= RTOL:
                failures.append(f"{name} {kind}: max relative difference {rel:.3g}")
    print(
        f"largest relative difference: values {worst['values']:.3g}, variances "
        f"{worst['variances']:.3g}"
    )
    assert not failures, f"{len(failures)} histogram(s) differ: " + "; ".join(failures[:10])

    # not vacuous: every nominal sample selects events in both regions, and the jet-pT
    # variations move the m_bjj histograms (so the trijet really used the varied pT)
    for name in expected:
        if "btag_var_" not in name and "scale_var" not in name:
            assert reference[name][0].sum() > 0, f"{name} is empty"
    for variation in ("pt_scale_up", "pt_res_up"):
        assert not np.array_equal(
            reference[f"4j2b_ttbar_{variation}"][0], reference["4j2b_ttbar"][0]
        )


def package_ml_choices(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The package's choices in the 4j2b events of one file (the processor's columns and
    selection, then :func:`best_assignments`): ``{variation: (4j2b event positions, chosen jets
    (W1, W2, b_had, b_lep) as positions among the event's selected jets, features)}``."""
    import awkward as ak
    from coffea.nanoevents import NanoEventsFactory

    events = NanoEventsFactory.from_root(
        {str(path): "Events"}, schemaclass=AGCSchema, mode="eager"
    ).events()
    electrons, muons, jets = collections(events, ml=True)
    number = ak.to_numpy(events.event)
    lepton = lepton_columns(electrons, muons)
    pt = np.asarray(jets.pt, dtype=np.float64)
    factors = jer_factors_flat(
        ak.to_numpy(events.run), ak.to_numpy(events.luminosityBlock), number, jets.counts
    )
    models = load_models()
    out = {}
    for name, varied in (
        ("nominal", None),
        ("pt_scale_up", pt * physics.JES_SCALE_UP),
        ("pt_res_up", pt * factors),
    ):
        sel = select(electrons, muons, jets, varied, keep_jets=(physics.ML_REGION,))
        region = sel.regions[physics.ML_REGION]
        best = best_assignments(
            region.jets,
            {k: v[region.mask] for k, v in lepton.items()},
            number[region.mask],
            models,
        )
        offsets = np.concatenate(([0], np.cumsum(region.jets.counts)))[best.event]
        out[name] = (
            np.flatnonzero(region.mask)[best.event],
            best.jets - offsets[:, None],
            best.features,
        )
    return out


_ML_CHOICES_SCRIPT = """
import numpy as np
from agc_reference import ml_choices
arrays = {
    f"{n}:{variation}:{i}": array
    for n, path in enumerate(sys.argv[2:])
    for variation, chosen in ml_choices(path).items()
    for i, array in enumerate(chosen)
}
np.savez(sys.argv[1], **arrays)
"""


def agc_ml_choices_without_avx512(
    paths: list[Path], tmp_path: Path
) -> list[dict[str, tuple[np.ndarray, ...]]]:
    """``agc_reference.ml_choices`` of each file, computed in one process with numpy's AVX-512
    loops off (:func:`cpu_helpers.without_avx512`)."""
    data = without_avx512(_ML_CHOICES_SCRIPT, tmp_path / "agc-ml-choices.npz", *map(str, paths))
    return [
        {
            variation: tuple(data[f"{n}:{variation}:{i}"] for i in range(3))
            for variation in sorted({k.split(":")[1] for k in data if k.startswith(f"{n}:")})
        }
        for n in range(len(paths))
    ]


def test_ml_assignments_and_features_equal_the_agcs_in_every_event(
    small_embedded_manifest: Path, tmp_path: Path
) -> None:
    """On the session's small dataset (its ttbar nominal files hold thousands of 4j2b events:
    the comparison is per event, so it needs no more). The AGC's code runs with numpy's AVX-512
    loops off (:mod:`cpu_helpers`): the package computes what numpy computes on such a CPU, on any
    CPU (:mod:`agc.core.portablemath`)."""
    n_events = 0
    manifest = json.loads(small_embedded_manifest.read_text())
    paths = [
        small_embedded_manifest.parent / record["path"]
        for record in manifest["ttbar"]["nominal"]["files"]
    ]
    for path, theirs in zip(paths, agc_ml_choices_without_avx512(paths, tmp_path), strict=True):
        ours = package_ml_choices(path)
        for variation, (events, jets, features) in theirs.items():
            our_events, our_jets, our_features = ours[variation]
            assert np.array_equal(our_events, events), variation
            assert np.array_equal(our_jets, jets), f"{variation}: other assignments"
            assert np.array_equal(our_features, features), f"{variation}: other feature values"
            n_events += len(events)
    assert n_events > 1000  # not vacuous: thousands of 4j2b events compared
