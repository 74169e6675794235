"""An independent cross-check of the package: the AGC ``TtbarAnalysis.process`` written plainly
with coffea NanoEvents, from the physics card (../shared/ANALYSIS.md) and the AGC pipeline
(iris-hep/analysis-grand-challenge, analyses/cms-open-data-ttbar/ttbar_analysis_pipeline.py).

It shares no analysis code with ``agc`` on purpose: NanoAODSchema collections with coffea's
vector behaviours, ``PackedSelection``, ``ak.combinations`` trijets and float64 ``hist`` fills
with the normalised weight of every event (``xsec * filter_efficiency * lumi / N_generated`` from
the manifest, as the AGC fills ``weight=xsec_weight * variation``). Differences from the AGC
code, each so that the comparison with the package is meaningful to 1e-9:

- the JER factors are *injected* (``agc.analysis.jer.jer_factors`` of each jet's run, luminosityBlock,
  event and index) instead of the AGC's unseeded ``np.random.normal(1, 0.05)``;
- the jet kinematics are promoted to float64 before anything is computed (the AGC multiplies
  float32 ``Jet_pt`` and sums float32 four-vectors; the package computes in float64; float32
  rounding, ~1e-7, would move events across bin edges);
- b-tagged means ``btagCSVV2 > 0.5`` everywhere, as the card says (the AGC uses ``>=`` for the
  ``exactly_1b`` count; no jet has exactly 0.5 in these files);
- no ML part, no data sample.

The varied pT replaces the jets' pT before anything is computed (``jets["pt"] = jets.pt *
factor``), so the object selection, b-tag counts, H_T and the trijet four-momenta all use it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awkward as ak
import hist
import numpy as np
from coffea.analysis_tools import PackedSelection
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

from agc.analysis.jer import jer_factors

# The physics card, restated (ANALYSIS.md): luminosity [/pb], card cross-sections [pb].
LUMI = 3378.0
CARD_XSEC = {
    "ttbar": 396.87 + 332.97,
    "single_top_s_chan": 2.0268 + 1.2676,
    "single_top_t_chan": (36.993 + 22.175) / 0.252,
    "single_top_tW": 37.936 + 37.906,
    "wjets": 61457 * 0.252,
}
SAMPLES = {
    "ttbar": ("nominal", "scaledown", "scaleup", "ME_var", "PS_var"),
    "single_top_s_chan": ("nominal",),
    "single_top_t_chan": ("nominal",),
    "single_top_tW": ("nominal",),
    "wjets": ("nominal",),
}
B_TAG_THRESHOLD = 0.5


class _Schema(NanoAODSchema):
    """NanoAODSchema, quiet about the cross-reference branches the synthetic files lack."""

    warn_missing_crossrefs = False


def _new_hist() -> hist.Hist:
    return hist.Hist(
        hist.axis.Regular(25, 50, 550, name="observable", label="observable [GeV]"),
        storage=hist.storage.Weight(),
    )


def _as_float64(jets: Any) -> Any:
    for name in ("pt", "eta", "phi", "mass"):
        jets[name] = ak.values_astype(jets[name], np.float64)
    return jets


def process_file(path: str | Path, process: str, variation: str, xsec_weight: float) -> dict:
    """Histograms of one file: ``{(region, label): hist.Hist}`` with weights already normalised.

    ``label`` is the variation name the AGC gives the histogram (``nominal``, ``pt_scale_up``,
    ``btag_var_0_up``, ... for nominal samples; the sample's own variation otherwise).
    """
    events = NanoEventsFactory.from_root(
        {str(path): "Events"}, schemaclass=_Schema, mode="eager"
    ).events()
    n_jet = ak.num(events.Jet, axis=1)
    factors = {
        "pt_scale_up": 1.03,
        "pt_res_up": jer_factors(events.run, events.luminosityBlock, events.event, n_jet),
    }
    syst_variations = ["nominal"]
    if variation == "nominal":
        syst_variations.extend(["pt_scale_up", "pt_res_up"])

    out: dict[tuple[str, str], hist.Hist] = {}

    def fill(region: str, label: str, observable: Any, weight: Any) -> None:
        h = out.setdefault((region, label), _new_hist())
        h.fill(observable=np.asarray(observable, dtype=np.float64), weight=weight)

    for syst_var in syst_variations:
        elecs = events.Electron
        muons = events.Muon
        jets = _as_float64(events.Jet)
        if syst_var in factors:
            jets["pt"] = jets.pt * factors[syst_var]  # replaces the pT for everything below

        electron_reqs = (
            (elecs.pt > 30) & (np.abs(elecs.eta) < 2.1) & (elecs.cutBased == 4) & (elecs.sip3d < 4)
        )
        muon_reqs = (
            (muons.pt > 30)
            & (np.abs(muons.eta) < 2.1)
            & muons.tightId
            & (muons.sip3d < 4)
            & (muons.pfRelIso04_all < 0.15)
        )
        jet_reqs = (jets.pt > 30) & (np.abs(jets.eta) < 2.4) & jets.isTightLeptonVeto
        elecs, muons, jets = elecs[electron_reqs], muons[muon_reqs], jets[jet_reqs]

        selections = PackedSelection(dtype="uint64")
        selections.add("exactly_1l", ak.to_numpy((ak.num(elecs) + ak.num(muons)) == 1))
        selections.add("atleast_4j", ak.to_numpy(ak.num(jets) >= 4))
        n_btag = ak.sum(jets.btagCSVV2 > B_TAG_THRESHOLD, axis=1)
        selections.add("exactly_1b", ak.to_numpy(n_btag == 1))
        selections.add("atleast_2b", ak.to_numpy(n_btag >= 2))
        selections.add("4j1b", selections.all("exactly_1l", "atleast_4j", "exactly_1b"))
        selections.add("4j2b", selections.all("exactly_1l", "atleast_4j", "atleast_2b"))

        for region in ("4j1b", "4j2b"):
            region_jets = jets[selections.all(region)]
            region_weights = np.ones(len(region_jets)) * xsec_weight
            if region == "4j1b":
                observable = ak.sum(region_jets.pt, axis=-1)
            else:
                trijet = ak.combinations(region_jets, 3, fields=["j1", "j2", "j3"])
                trijet["p4"] = trijet.j1 + trijet.j2 + trijet.j3
                trijet["max_btag"] = np.maximum(
                    trijet.j1.btagCSVV2, np.maximum(trijet.j2.btagCSVV2, trijet.j3.btagCSVV2)
                )
                trijet = trijet[trijet.max_btag > B_TAG_THRESHOLD]
                best = ak.argmax(trijet.p4.pt, axis=1, keepdims=True)
                observable = ak.flatten(trijet["p4"][best].mass)

            if syst_var in factors:
                fill(region, syst_var, observable, region_weights)
                continue
            fill(region, variation, observable, region_weights)
            if variation != "nominal":
                continue
            for i_var in range(4):
                pt_i = ak.to_numpy(region_jets.pt[:, i_var])
                for direction, sign in (("up", 1.0), ("down", -1.0)):
                    wgt_variation = 1.0 + sign * 0.075 * pt_i / 50.0
                    fill(
                        region,
                        f"btag_var_{i_var}_{direction}",
                        observable,
                        region_weights * wgt_variation,
                    )
            if process == "wjets":
                for direction, factor in (("up", 1.025), ("down", 0.975)):
                    fill(region, f"scale_var_{direction}", observable, region_weights * factor)
    return out


def reference_histograms(manifest_path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every histogram of ``histograms.root`` for the card's samples in the manifest:
    ``{name: (values, variances)}`` including flow bins, normalised, with pseudo-data."""
    manifest_path = Path(manifest_path)
    manifest = json.loads(manifest_path.read_text())
    result: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for process, variations in SAMPLES.items():
        for variation in variations:
            entry = manifest.get(process, {}).get(variation)
            if entry is None:
                continue
            xsec = float(entry.get("xsec", CARD_XSEC[process]))
            xsec *= float(entry.get("filter_efficiency", 1.0))
            n_generated = sum(int(f["nevts"]) for f in entry["files"])
            xsec_weight = xsec * LUMI / n_generated
            totals: dict[tuple[str, str], hist.Hist] = {}
            for record in entry["files"]:
                path = Path(record["path"])
                path = path if path.is_absolute() else manifest_path.parent / path
                for key, h in process_file(path, process, variation, xsec_weight).items():
                    totals[key] = totals[key] + h if key in totals else h
            for (region, label), h in totals.items():
                name = (
                    f"{region}_{process}" if label == "nominal" else f"{region}_{process}_{label}"
                )
                result[name] = (h.values(flow=True), h.variances(flow=True))
    for region in ("4j1b", "4j2b"):
        parts = [f"{region}_ttbar_ME_var", f"{region}_ttbar_PS_var", f"{region}_wjets"]
        if all(p in result for p in parts):
            (me, me_var), (ps, ps_var), (wj, wj_var) = (result[p] for p in parts)
            result[f"{region}_pseudodata"] = ((me + ps) / 2 + wj, (me_var + ps_var) / 4 + wj_var)
    return dict(sorted(result.items()))
