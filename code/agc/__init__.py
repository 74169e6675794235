"""agc: the CMS 2015 Open Data ttbar analysis of the IRIS-HEP Analysis Grand Challenge, preserved.

Stages (one public function each, called alike by notebooks, the CLI and the tests):

- :mod:`agc.dataset.generate`   -- deterministic synthetic NanoAOD (the embedded default dataset)
- :mod:`agc.dataset.manifest`   -- input file lists in the AGC layout
- :mod:`agc.processing.histograms` -- NanoAOD -> ``histograms.root`` (coffea processor)
- :mod:`agc.stats.model`      -- cabinetry config -> pyhf workspace
- :mod:`agc.stats.fit`        -- maximum-likelihood fit
- :mod:`agc.plots.figures`      -- paper plots
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
