"""The paper plots: pre-/post-fit distributions, pulls, correlations, impact ranking
(:mod:`agc.plots.figures`) and the CLs limit figures (:mod:`agc.plots.limits`). Reads the results
of :mod:`agc.stats`; beneath it: :mod:`agc.stats`, :mod:`agc.processing`, :mod:`agc.dataset`,
:mod:`agc.core`.
"""
