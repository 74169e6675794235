"""The physics card (../shared/ANALYSIS.md) as constants: samples, cross-sections, cuts, binning.

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

# Object selection (ANALYSIS.md, "Objects").
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

# Systematic variations (ANALYSIS.md, "Systematic variations").
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
