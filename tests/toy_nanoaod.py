"""Tiny NanoAOD-layout files for the processing tests (independent of agc.dataset.generate).

Random but seeded events with the branches the analysis reads (same names and dtypes as the
real file; counts written by uproot as ``nJet`` etc.). Kinematics are crude -- enough events
land in both regions for every sample -- and that is all these files are for.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from agc.dataset.manifest import write_manifest


def toy_events(n_events: int, seed: int) -> dict[str, Any]:
    """Branch data of ``n_events`` toy events (event numbers unique per seed)."""
    rng = np.random.default_rng(seed)

    def jagged(counts: np.ndarray, values: np.ndarray) -> ak.Array:
        return ak.unflatten(values, counts)

    n_jet = rng.poisson(6, n_events)
    n_el = rng.poisson(0.6, n_events)
    n_mu = rng.poisson(0.6, n_events)
    tj, te, tm = int(n_jet.sum()), int(n_el.sum()), int(n_mu.sum())
    f4 = np.float32
    jets = ak.zip(
        {
            "pt": jagged(n_jet, (20 + rng.exponential(40, tj)).astype(f4)),
            "eta": jagged(n_jet, rng.uniform(-3, 3, tj).astype(f4)),
            "phi": jagged(n_jet, rng.uniform(-np.pi, np.pi, tj).astype(f4)),
            "mass": jagged(n_jet, rng.uniform(3, 20, tj).astype(f4)),
            "btagCSVV2": jagged(n_jet, rng.uniform(0, 1, tj).astype(f4)),
            "jetId": jagged(
                n_jet, rng.choice(np.array([0, 2, 6], dtype=np.int32), tj, p=[0.05, 0.05, 0.9])
            ),
        }
    )
    electrons = ak.zip(
        {
            "pt": jagged(n_el, (15 + rng.exponential(30, te)).astype(f4)),
            "eta": jagged(n_el, rng.uniform(-2.5, 2.5, te).astype(f4)),
            "cutBased": jagged(n_el, rng.integers(0, 5, te).astype(np.int32)),
            "sip3d": jagged(n_el, rng.exponential(2, te).astype(f4)),
        }
    )
    muons = ak.zip(
        {
            "pt": jagged(n_mu, (15 + rng.exponential(30, tm)).astype(f4)),
            "eta": jagged(n_mu, rng.uniform(-2.5, 2.5, tm).astype(f4)),
            "tightId": jagged(n_mu, rng.uniform(0, 1, tm) < 0.8),
            "sip3d": jagged(n_mu, rng.exponential(2, tm).astype(f4)),
            "pfRelIso04_all": jagged(n_mu, rng.exponential(0.1, tm).astype(f4)),
        }
    )
    # The ML extension's branches, from their own stream so the branches above keep their values.
    ml = np.random.default_rng([seed, 21])
    jets = ak.with_field(jets, jagged(n_jet, ml.uniform(-1, 1, tj).astype(f4)), "qgl")
    electrons = ak.with_field(
        electrons, jagged(n_el, ml.uniform(-np.pi, np.pi, te).astype(f4)), "phi"
    )
    electrons = ak.with_field(electrons, jagged(n_el, np.full(te, 0.000511, dtype=f4)), "mass")
    muons = ak.with_field(muons, jagged(n_mu, ml.uniform(-np.pi, np.pi, tm).astype(f4)), "phi")
    muons = ak.with_field(muons, jagged(n_mu, np.full(tm, 0.10566, dtype=f4)), "mass")
    event = np.arange(n_events, dtype=np.uint64) + 1 + np.uint64(seed) * np.uint64(10_000_000)
    return {
        "run": np.full(n_events, 1, dtype=np.uint32),
        "luminosityBlock": (event // np.uint64(100)).astype(np.uint32),
        "event": event,
        "Jet": jets,
        "Electron": electrons,
        "Muon": muons,
    }


def write_toy_file(
    path: str | Path,
    n_events: int,
    seed: int,
    *,
    tree: str = "Events",
    drop: Iterable[str] = (),
    file_format: str = "ttree",
) -> Path:
    """Write a toy NanoAOD file; ``drop`` removes fields (e.g. ``("Muon", "sip3d")`` style
    names as ``"Muon_sip3d"``) to make a file with a missing branch. ``file_format="rntuple"``
    writes the same content as an RNTuple with top-level fields ``Jet_pt``, ``nJet``, ...
    (the layout of ROOT's RNTupleImporter)."""
    data = toy_events(n_events, seed)
    for name in drop:
        collection, _, fld = name.partition("_")
        if fld and collection in data:
            record = data[collection]
            data[collection] = ak.zip({f: record[f] for f in record.fields if f != fld})
        else:
            data.pop(name)
    if file_format == "rntuple":
        return _write_toy_rntuple(path, tree, data)
    types = {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
    with uproot.recreate(path) as handle:
        handle.mktree(
            tree, types, counter_name=lambda c: "n" + c, field_name=lambda o, i: f"{o}_{i}"
        )
        handle[tree].extend(data)
    return Path(path)


def _write_toy_rntuple(path: str | Path, name: str, data: dict[str, Any]) -> Path:
    """``data`` (collections as records) as an RNTuple of flat NanoAOD-named fields."""
    fields: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, ak.Array) and value.fields:
            fields[f"n{key}"] = ak.to_numpy(ak.num(value)).astype(np.uint32)
            fields.update({f"{key}_{f}": value[f] for f in value.fields})
        else:
            fields[key] = value
    with uproot.recreate(path) as handle:
        handle.mkrntuple(name, fields)
    return Path(path)


#: (process, variation, [events per file], xsec or None) of the toy dataset.
TOY_SAMPLES: list[tuple[str, str, list[int], float | None]] = [
    ("ttbar", "nominal", [1500, 1000], None),
    ("ttbar", "ME_var", [700], None),
    ("ttbar", "PS_var", [700], None),
    ("ttbar", "scaleup", [500], None),
    ("wjets", "nominal", [1200], None),
    ("single_top_tW", "nominal", [500], None),
    ("zprime_1000", "nominal", [400], 2.5),
]


def write_toy_dataset(
    folder: str | Path,
    samples: list[tuple[str, str, list[int], float | None]] | None = None,
    file_format: str = "ttree",
) -> Path:
    """Toy files (``file_format``: ``"ttree"`` or ``"rntuple"``) and their manifest (AGC
    layout, relative paths) in ``folder``; return the manifest."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict[str, Any]] = {}
    seed = 1
    for process, variation, sizes, xsec in samples or TOY_SAMPLES:
        files = []
        for i, n in enumerate(sizes):
            name = f"{process}__{variation}_{i}.root"
            write_toy_file(folder / name, n, seed, file_format=file_format)
            seed += 1
            files.append({"path": name, "nevts": n})
        entry: dict[str, Any] = {"nevts_total": sum(sizes), "files": files}
        if xsec is not None:
            entry["xsec"] = xsec
        manifest.setdefault(process, {})[variation] = entry
    return write_manifest(folder / "manifest.json", manifest)
