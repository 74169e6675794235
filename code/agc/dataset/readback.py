"""Read a dataset back: per-sample event counts, object multiplicities and selection fractions.

This is the read-back check of ``make run`` (``agc summary``): it opens every file of a
manifest with uproot, streams the branches the analysis reads and reports, per sample, the
number of files/events/bytes, mean object multiplicities, the fraction of events with exactly
one tight lepton and the fractions landing in the analysis regions (cuts of
:mod:`agc.core.physics`). Works the same on generated files and on real NanoAOD.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from agc.core import physics
from agc.core.errors import AGCError
from agc.dataset.manifest import load_manifest, sample_key

_BRANCHES = [
    "nJet", "nElectron", "nMuon", "Jet_pt", "Jet_eta", "Jet_jetId", "Jet_btagCSVV2",
    "Electron_pt", "Electron_eta", "Electron_cutBased", "Electron_sip3d",
    "Muon_pt", "Muon_eta", "Muon_tightId", "Muon_sip3d", "Muon_pfRelIso04_all",
]  # fmt: skip
_STEP = 200_000
#: Files read at a time by :func:`summarize`.
READ_THREADS = 2


def _counts(arrays: ak.Array) -> dict[str, float]:
    """Sums over one chunk of events: multiplicities and selection counts."""
    el = arrays
    n_el = ak.sum(
        (el.Electron_pt > physics.ELECTRON_PT_MIN)
        & (abs(el.Electron_eta) < physics.ELECTRON_ABS_ETA_MAX)
        & (el.Electron_cutBased == physics.ELECTRON_CUTBASED_TIGHT)
        & (el.Electron_sip3d < physics.ELECTRON_SIP3D_MAX),
        axis=1,
    )
    n_mu = ak.sum(
        (el.Muon_pt > physics.MUON_PT_MIN)
        & (abs(el.Muon_eta) < physics.MUON_ABS_ETA_MAX)
        & el.Muon_tightId
        & (el.Muon_sip3d < physics.MUON_SIP3D_MAX)
        & (el.Muon_pfRelIso04_all < physics.MUON_RELISO_MAX),
        axis=1,
    )
    jet_ok = (
        (el.Jet_pt > physics.JET_PT_MIN)
        & (abs(el.Jet_eta) < physics.JET_ABS_ETA_MAX)
        & ((el.Jet_jetId & physics.JET_ID_TIGHT_LEPTON_VETO_BIT) != 0)
    )
    n_jet = ak.sum(jet_ok, axis=1)
    n_b = ak.sum(jet_ok & (el.Jet_btagCSVV2 > physics.BTAG_CSVV2_MIN), axis=1)
    one_lepton = (n_el + n_mu) == 1
    selected = one_lepton & (n_jet >= 4)
    return {
        "events": len(arrays),
        "jets": float(np.sum(arrays.nJet)),
        "electrons": float(np.sum(arrays.nElectron)),
        "muons": float(np.sum(arrays.nMuon)),
        "selected_jets": float(ak.sum(n_jet)),
        "one_tight_lepton": float(ak.sum(one_lepton)),
        "selected": float(ak.sum(selected)),
        "4j1b": float(ak.sum(selected & (n_b == 1))),
        "4j2b": float(ak.sum(selected & (n_b >= 2))),
    }


def _read_file(path: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    try:
        with uproot.open(path) as handle:
            if "Events" not in handle:
                raise AGCError(f"{path}: no 'Events' tree")
            tree = handle["Events"]
            missing = [b for b in _BRANCHES if b not in tree]
            if missing:
                raise AGCError(f"{path}: missing branch '{missing[0]}'")
            for arrays in tree.iterate(_BRANCHES, step_size=_STEP, library="ak"):
                for key, value in _counts(arrays).items():
                    totals[key] = totals.get(key, 0.0) + value
    except FileNotFoundError:
        raise AGCError(f"input file not found: {path}") from None
    except AGCError:
        raise
    except Exception as exc:  # noqa: BLE001 - uproot raises many types for damaged files
        raise AGCError(
            f"{path}: cannot read: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    return totals


@dataclass(frozen=True)
class SampleReadback:
    """What was read back from the files of one sample.

    Counts: ``files``, ``events`` (read), ``nevts`` (the manifest's ``nevts_total``), ``bytes``
    (local files only). Means per event (4 decimals): all jets/electrons/muons and the jets of the
    analysis selection. Fractions of the events read (5 decimals): exactly one tight lepton,
    selected (one lepton, >= 4 jets), and the 4j1b / 4j2b regions.
    """

    files: int
    events: int
    nevts: int
    bytes: int
    mean_jets: float
    mean_electrons: float
    mean_muons: float
    mean_selected_jets: float
    fraction_one_tight_lepton: float
    fraction_selected: float
    fraction_4j1b: float
    fraction_4j2b: float

    @classmethod
    def from_totals(
        cls, totals: dict[str, float], files: int, nevts: int, size: int
    ) -> SampleReadback:
        """From the summed :func:`_counts` of the sample's files."""
        n = max(totals["events"], 1.0)
        return cls(
            files=files,
            events=int(totals["events"]),
            nevts=nevts,
            bytes=size,
            mean_jets=round(totals["jets"] / n, 4),
            mean_electrons=round(totals["electrons"] / n, 4),
            mean_muons=round(totals["muons"] / n, 4),
            mean_selected_jets=round(totals["selected_jets"] / n, 4),
            fraction_one_tight_lepton=round(totals["one_tight_lepton"] / n, 5),
            fraction_selected=round(totals["selected"] / n, 5),
            fraction_4j1b=round(totals["4j1b"] / n, 5),
            fraction_4j2b=round(totals["4j2b"] / n, 5),
        )

    def to_dict(self) -> dict[str, Any]:
        """``{"files", "events", "nevts", "bytes", "mean_*", "fraction_*"}`` (this order)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ReadbackTotal:
    """Files, events read and bytes (local files) over every sample."""

    files: int
    events: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        """``{"files", "events", "bytes"}``."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Readback:
    """The read-back of a manifest: per sample (keyed ``process__variation``) and in total."""

    manifest: str
    samples: dict[str, SampleReadback]
    total: ReadbackTotal

    def to_dict(self) -> dict[str, Any]:
        """``{"manifest": path, "samples": {"ttbar__nominal": {...}}, "total": {...}}`` (JSON)."""
        return {
            "manifest": self.manifest,
            "samples": {key: sample.to_dict() for key, sample in self.samples.items()},
            "total": self.total.to_dict(),
        }


def _read_sample(entry: dict[str, Any], read: Iterator[dict[str, float]]) -> SampleReadback:
    """The read-back of one manifest entry from ``read`` (the sums of its files, in order, as
    :func:`_read_file` gives them); check each file's event count."""
    totals: dict[str, float] = {}
    size = 0
    for item in entry["files"]:
        counts = next(read)
        if int(counts["events"]) != int(item["nevts"]):
            raise AGCError(
                f"{item['path']}: {int(counts['events'])} events, manifest says {item['nevts']}"
            )
        for key, value in counts.items():
            totals[key] = totals.get(key, 0.0) + value
        if "://" not in item["path"]:
            size += Path(item["path"]).stat().st_size
    return SampleReadback.from_totals(totals, len(entry["files"]), int(entry["nevts_total"]), size)


def summarize(manifest_path: str | os.PathLike[str], threads: int = READ_THREADS) -> Readback:
    """Per-sample read-back of a manifest's files (:meth:`Readback.to_dict` for JSON).

    Every file is opened and the branches the analysis reads are streamed (see
    :class:`SampleReadback` for what is reported per sample), ``threads`` files at a time
    (decompression and numpy release the GIL); the sums are added in the manifest's file order.
    Raises :class:`AGCError` for the first file in that order that is missing, unreadable or lacks
    a branch, or whose event count read differs from the manifest's ``nevts``.
    """
    manifest = load_manifest(manifest_path)
    entries = {
        sample_key(process, variation): entry
        for process, variations in manifest.items()
        for variation, entry in variations.items()
    }
    paths = [item["path"] for entry in entries.values() for item in entry["files"]]
    pool = ThreadPoolExecutor(max(1, threads))
    try:
        read = pool.map(_read_file, paths)  # results (and errors) in the order of ``paths``
        samples = {key: _read_sample(entry, read) for key, entry in entries.items()}
    finally:
        pool.shutdown(cancel_futures=True)  # after an error, the files not started are not read
    total = ReadbackTotal(
        files=sum(s.files for s in samples.values()),
        events=sum(s.events for s in samples.values()),
        bytes=sum(s.bytes for s in samples.values()),
    )
    return Readback(manifest=str(manifest_path), samples=samples, total=total)
