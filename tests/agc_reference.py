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
- no data sample.

The ML part (:func:`agc_get_features`, :func:`agc_permutations`, :func:`agc_best_features`)
keeps the AGC's dtypes end to end: NanoAOD's float32 columns (a varied pT is float64, the float32
pT times a float64 factor, as in the AGC), coffea's ``Jet`` sums and scikit-hep vector's
``Momentum4D`` sums, the float64 feature array that xgboost reads as float32, and the
first best-scored assignment (``ak.argmax``).

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
import vector
from coffea.analysis_tools import PackedSelection
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

from agc.analysis.jer import jer_factors_flat

# The physics card, restated (docs/analysis.md): luminosity [/pb], card cross-sections [pb].
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


# ----------------------------------------------------------------------------- ML extension


def agc_permutations(max_n_jets: int) -> dict[int, list[list[int]]]:
    """AGC ``utils/ml.py`` ``get_permutations_dict(MAX_N_JETS)`` (without labels), transcribed."""
    permutations_dict = {}
    for n in range(4, max_n_jets + 1):
        test = ak.Array(range(n))
        unzipped = ak.unzip(ak.argcartesian([test] * 4, axis=0))
        combos = ak.combinations(ak.Array(range(4)), 2, axis=0)
        different = unzipped[combos[0]["0"]] != unzipped[combos[0]["1"]]
        for i in range(1, len(combos)):
            different = different & (unzipped[combos[i]["0"]] != unzipped[combos[i]["1"]])
        perms = ak.concatenate(
            [test[unzipped[i][different]][..., np.newaxis] for i in range(len(unzipped))], axis=1
        ).to_list()
        permutations_dict[n] = perms
    labels_dict = {}
    for n in range(4, max_n_jets + 1):
        current = []
        for perm in permutations_dict[n]:
            inds = np.array(perm)
            label = 100 * np.ones(n)
            label[inds[:2]] = 24
            label[inds[2]] = 6
            label[inds[3]] = -6
            current.append(label.tolist())
        labels_dict[n] = current
    for n in range(4, max_n_jets + 1):
        res = [idx for idx, val in enumerate(labels_dict[n]) if val in labels_dict[n][:idx]]
        permutations_dict[n] = np.array(permutations_dict[n])[res].tolist()
    return permutations_dict


def agc_get_features(
    jets: Any, electrons: Any, muons: Any, max_n_jets: int = 6
) -> tuple[np.ndarray, np.ndarray]:
    """AGC ``utils/ml.py`` ``get_features(jets, electrons, muons)``, transcribed: the selected
    jets as coffea ``Jet`` records (their sums are coffea's), the selected electrons and muons
    (one lepton per event), columns in whatever dtype they come (NanoAOD: float32).

    Returns (features: float64 (rows, 20), rows per event: int64)."""
    vector.register_awkward()
    permutations_dict = agc_permutations(max_n_jets)
    njet = ak.num(jets).to_numpy()
    njet[njet > max_n_jets] = max_n_jets
    perms = ak.Array([permutations_dict[n] for n in njet])
    perm_counts = ak.num(perms)
    features = np.zeros((int(ak.sum(perm_counts)), 20))
    leptons = ak.flatten(ak.concatenate((electrons, muons), axis=1), axis=-1)
    j = [jets[perms[..., k]] for k in range(4)]

    def delta_r(a: Any, b: Any) -> np.ndarray:
        return ak.flatten(np.sqrt((a.eta - b.eta) ** 2 + (a.phi - b.phi) ** 2)).to_numpy()

    features[:, 0] = delta_r(leptons, j[3])
    features[:, 1] = delta_r(j[0], j[1])
    features[:, 2] = delta_r(j[0], j[2])
    features[:, 3] = delta_r(j[1], j[2])

    def p4(objects: Any) -> Any:
        fields = ("pt", "eta", "phi", "mass")
        return ak.zip({f: objects[f] for f in fields}, with_name="Momentum4D")

    lep_p4 = ak.flatten(ak.concatenate((p4(electrons), p4(muons)), axis=1), axis=-1)
    jet_p4 = p4(jets)
    features[:, 4] = ak.flatten((lep_p4 + jet_p4[perms[..., 3]]).mass).to_numpy()
    features[:, 5] = ak.flatten((j[0] + j[1]).mass).to_numpy()
    features[:, 6] = ak.flatten((j[0] + j[1] + j[2]).mass).to_numpy()
    features[:, 7] = ak.flatten((j[0] + j[1] + j[2]).pt).to_numpy()
    for first, field in ((8, "pt"), (12, "btagCSVV2"), (16, "qgl")):
        for k in range(4):
            features[:, first + k] = ak.flatten(j[k][field]).to_numpy()
    return features, ak.to_numpy(perm_counts).astype(np.int64)


def agc_models() -> tuple[Any, Any]:
    """(model_even, model_odd): the AGC's BDTs (AGC ``load_models``) from the package's copy
    (inputs/models, the same files), as ``xgboost.Booster`` (the AGC wraps them in
    ``XGBClassifier``, which needs scikit-learn; its ``predict_proba(x)[:, 1]`` is the
    booster's prediction on ``DMatrix(x)``)."""
    import xgboost

    folder = Path(__file__).resolve().parents[1] / "inputs" / "models" / "agc_reconstruction_bdt"
    out = []
    for name in ("model_even.json", "model_odd.json"):
        model = xgboost.Booster()
        model.load_model(folder / name)
        out.append(model)
    return out[0], out[1]


def agc_best_features(
    features: np.ndarray, perm_counts: np.ndarray, even: np.ndarray, models: tuple[Any, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """AGC ``get_inference_results_local`` and the pipeline's choice: BDT probabilities of the
    rows (``models``: :func:`agc_models`; an even event is scored by the model trained on odd
    events), then per event the features of the first row with the largest one
    (``ak.argmax``). ``even``: bool per event. Returns (per event: the chosen row's position
    within its event, its features (n_events, 20))."""
    import xgboost

    model_even, model_odd = models
    even_perm = np.repeat(even, perm_counts)
    results = np.zeros(features.shape[0])
    if len(features[even_perm]) > 0:
        results[even_perm] = model_odd.predict(xgboost.DMatrix(features[even_perm, :]))
    if len(features[~even_perm]) > 0:
        results[~even_perm] = model_even.predict(xgboost.DMatrix(features[~even_perm, :]))
    best = ak.to_numpy(ak.argmax(ak.unflatten(results, perm_counts), axis=1))
    starts = np.concatenate(([0], np.cumsum(perm_counts)[:-1])).astype(np.int64)
    return best, features[starts + best]


def ml_choices(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The AGC pipeline's ML choices in the 4j2b events of one file, for ``nominal``,
    ``pt_scale_up`` and ``pt_res_up`` (injected JER factors, as in :func:`process_file`):
    ``{variation: (4j2b event positions, chosen jets (W1, W2, b_had, b_lep) as positions among
    the event's selected jets (n, 4), their features (n, 20))}``.

    As in the AGC, the pT factor is a float64 field of the events, so a varied pT is float64
    while every other column stays NanoAOD's float32."""
    events = NanoEventsFactory.from_root(
        {str(path): "Events"}, schemaclass=_Schema, mode="eager"
    ).events()
    n_jet = ak.num(events.Jet, axis=1)
    events["pt_scale_up"] = 1.03
    events["pt_res_up"] = jer_factors(events.run, events.luminosityBlock, events.event, n_jet)
    even = ak.to_numpy(events.event % 2 == 0)
    models = agc_models()
    out = {}
    for syst_var in ("nominal", "pt_scale_up", "pt_res_up"):
        elecs, muons, jets = events.Electron, events.Muon, events.Jet
        if syst_var != "nominal":
            jets["pt"] = jets.pt * events[syst_var]
        elecs = elecs[
            (elecs.pt > 30) & (np.abs(elecs.eta) < 2.1) & (elecs.cutBased == 4) & (elecs.sip3d < 4)
        ]
        muons = muons[
            (muons.pt > 30)
            & (np.abs(muons.eta) < 2.1)
            & muons.tightId
            & (muons.sip3d < 4)
            & (muons.pfRelIso04_all < 0.15)
        ]
        jets = jets[(jets.pt > 30) & (np.abs(jets.eta) < 2.4) & jets.isTightLeptonVeto]
        region = ak.to_numpy(
            ((ak.num(elecs) + ak.num(muons)) == 1)
            & (ak.num(jets) >= 4)
            & (ak.sum(jets.btagCSVV2 > B_TAG_THRESHOLD, axis=1) >= 2)
        )
        features, perm_counts = agc_get_features(jets[region], elecs[region], muons[region])
        best, chosen = agc_best_features(features, perm_counts, even[region], models)
        n_used = np.minimum(ak.to_numpy(ak.num(jets[region])), 6)
        perms = agc_permutations(6)
        chosen_jets = np.array([perms[n][b] for n, b in zip(n_used, best, strict=True)])
        out[syst_var] = (np.flatnonzero(region), chosen_jets.reshape(-1, 4), chosen)
    return out


def jer_factors(run: Any, luminosity_block: Any, event: Any, n_jets: Any) -> ak.Array:
    """The package's per-jet JER factors (:func:`agc.analysis.jer.jer_factors_flat`) as a jagged
    ``n_events * var * float64`` array, like ``Jet_pt``: what the reference injects."""
    counts = np.asarray(n_jets, dtype=np.int64)
    flat = jer_factors_flat(
        np.asarray(run), np.asarray(luminosity_block), np.asarray(event), counts
    )
    return ak.unflatten(flat, counts)
