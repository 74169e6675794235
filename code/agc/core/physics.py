"""The analysis definition (docs/analysis.md) as constants: samples, cross-sections, cuts, binning.

Units: GeV for momenta and masses, pb for cross-sections, /pb for luminosity.
"""

from __future__ import annotations

#: Integrated luminosity used for normalisation [/pb].
LUMI_PB: float = 3378.0

#: Cross-sections of the analysis processes [pb].
XSEC_PB: dict[str, float] = {
    "ttbar": 396.87 + 332.97,
    "single_top_s_chan": 2.0268 + 1.2676,
    "single_top_t_chan": (36.993 + 22.175) / 0.252,
    "single_top_tW": 37.936 + 37.906,
    "wjets": 61457 * 0.252,
}

#: Processes and the samples (variations) each one has in the AGC file list.
VARIATIONS: dict[str, tuple[str, ...]] = {
    "ttbar": ("nominal", "scaledown", "scaleup", "ME_var", "PS_var"),
    "single_top_s_chan": ("nominal",),
    "single_top_t_chan": ("nominal",),
    "single_top_tW": ("nominal",),
    "wjets": ("nominal",),
}

#: Analysis regions and their observables.
REGIONS: dict[str, str] = {"4j1b": "H_T", "4j2b": "m_bjj"}

#: Fill binning of every histogram: (number of bins, low edge [GeV], high edge [GeV]).
FILL_BINNING: tuple[int, float, float] = (25, 50.0, 550.0)

#: Bin edges used by the statistical model after rebinning [GeV].
MODEL_BIN_EDGES: tuple[float, ...] = tuple(float(x) for x in range(110, 551, 40))

# Object selection (docs/analysis.md, "Objects").
ELECTRON_PT_MIN = 30.0
ELECTRON_ABS_ETA_MAX = 2.1
ELECTRON_CUTBASED_TIGHT = 4
ELECTRON_SIP3D_MAX = 4.0
MUON_PT_MIN = 30.0
MUON_ABS_ETA_MAX = 2.1
MUON_SIP3D_MAX = 4.0
MUON_RELISO_MAX = 0.15
JET_PT_MIN = 30.0
JET_ABS_ETA_MAX = 2.4
JET_ID_TIGHT_LEPTON_VETO_BIT = 4
BTAG_CSVV2_MIN = 0.5

# Systematic variations (docs/analysis.md, "Systematic variations").
JES_SCALE_UP = 1.03
JER_SIGMA = 0.05
BTAG_VAR_PER_50GEV = 0.075
N_BTAG_VAR_JETS = 4
WJETS_SCALE_VAR = {"scale_var_up": 1.025, "scale_var_down": 0.975}
LUMI_UNCERTAINTY = 0.03

#: Seed of the reproducible JER smearing (the reference draws unseeded numbers).
JER_SEED: int = 20150101

#: Branches the analysis reads (plus the counts and event identity).
BRANCHES_READ: tuple[str, ...] = (
    "Jet_pt",
    "Jet_eta",
    "Jet_phi",
    "Jet_mass",
    "Jet_btagCSVV2",
    "Jet_jetId",
    "Electron_pt",
    "Electron_eta",
    "Electron_cutBased",
    "Electron_sip3d",
    "Muon_pt",
    "Muon_eta",
    "Muon_tightId",
    "Muon_sip3d",
    "Muon_pfRelIso04_all",
    "nJet",
    "nElectron",
    "nMuon",
    "run",
    "luminosityBlock",
    "event",
)

# -- Machine-learning extension (docs/analysis.md, "Machine-learning extension"; AGC utils/config.py
# "ml" and utils/ml.py) ---------------------------------------------------------------------

#: Branches the jet-parton assignment features read besides :data:`BRANCHES_READ`.
ML_BRANCHES_READ: tuple[str, ...] = (
    "Jet_qgl",
    "Electron_phi",
    "Electron_mass",
    "Muon_phi",
    "Muon_mass",
)

#: Jets considered in the assignment: the leading (first, in NanoAOD order) selected jets.
ML_MAX_N_JETS: int = 6

#: Region whose events the BDT scores and whose best assignment is histogrammed.
ML_REGION: str = "4j2b"

#: The 20 features of an assignment (W jet 1, W jet 2, b of the hadronic top, b of the leptonic
#: top), in the AGC's order, with their histogram range (low, high) [GeV for masses and pT;
#: dimensionless otherwise] and description (AGC ``FEATURE_NAMES``, ``BIN_LOW``/``BIN_HIGH``,
#: ``FEATURE_DESCRIPTIONS``). 25 bins each (:data:`FILL_BINNING`'s count).
ML_FEATURES: dict[str, tuple[float, float, str]] = {
    "deltar_leptonbtoplep": (0.0, 6.0, r"$\Delta R$ between $b_{top-lep}$ jet and lepton"),
    "deltar_w1w2": (0.0, 6.0, r"$\Delta R$ between the two W jets"),
    "deltar_w1btophad": (0.0, 6.0, r"$\Delta R$ between first W jet and $b_{top-had}$ jet"),
    "deltar_w2btophad": (0.0, 6.0, r"$\Delta R$ between second W jet and $b_{top-had}$ jet"),
    "mass_leptonbtoplep": (50.0, 300.0, r"Mass of $b_{top-lep}$ jet and lepton [GeV]"),
    "mass_w1w2": (50.0, 300.0, "Mass of the two W jets [GeV]"),
    "mass_w1w2btophad": (50.0, 550.0, r"Mass of $b_{top-had}$ jet and the two W jets [GeV]"),
    "pt_w1w2btophad": (50.0, 550.0, r"$p_T$ of $b_{top-had}$ jet and the two W jets [GeV]"),
    "pt_w1": (25.0, 300.0, r"$p_T$ of the first W jet [GeV]"),
    "pt_w2": (25.0, 300.0, r"$p_T$ of the second W jet [GeV]"),
    "pt_btophad": (25.0, 300.0, r"$p_T$ of the $b_{top-had}$ jet [GeV]"),
    "pt_btoplep": (25.0, 300.0, r"$p_T$ of the $b_{top-lep}$ jet [GeV]"),
    "btag_w1": (0.0, 1.0, "btagCSVV2 of the first W jet"),
    "btag_w2": (0.0, 1.0, "btagCSVV2 of the second W jet"),
    "btag_btophad": (0.0, 1.0, r"btagCSVV2 of the $b_{top-had}$ jet"),
    "btag_btoplep": (0.0, 1.0, r"btagCSVV2 of the $b_{top-lep}$ jet"),
    "qgl_w1": (-1.0, 1.0, "Quark-gluon likelihood of the first W jet"),
    "qgl_w2": (-1.0, 1.0, "Quark-gluon likelihood of the second W jet"),
    "qgl_btophad": (-1.0, 1.0, r"Quark-gluon likelihood of the $b_{top-had}$ jet"),
    "qgl_btoplep": (-1.0, 1.0, r"Quark-gluon likelihood of the $b_{top-lep}$ jet"),
}

#: The AGC's trained BDTs (xgboost JSON; MIT licence, inputs/models/agc_reconstruction_bdt/LICENSE):
#: ``even`` was trained on events with even ``event`` number and scores odd events, ``odd`` the
#: reverse. sha256 of each file, checked when a model is loaded.
ML_MODEL_DIR: str = "inputs/models/agc_reconstruction_bdt"
ML_MODEL_SHA256: dict[str, str] = {
    "model_even.json": "6b83e87d6e74a931195de041650dba342b5d2e687ed941f0ff07069b10f0961c",
    "model_odd.json": "67c0f5469000305d704c5c9e583862008b5bdb02e6edd0306e7057c36b5afaa1",
}

#: Added to every bin of every ML histogram, as the AGC's ``save_ml_histograms`` does
#: (``histogram += 1e-6``: "to avoid crashes when processing a small number of samples").
ML_HIST_OFFSET: float = 1e-6
