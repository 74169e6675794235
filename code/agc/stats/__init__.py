"""The statistical stage: ``histograms.root`` -> pyhf workspace (cabinetry,
:func:`agc.stats.model.build_workspace`) -> maximum-likelihood fit and impacts
(:func:`agc.stats.fit.run_fit`; impacts :mod:`~agc.stats.ranking`) -> CLs upper limits
(:func:`agc.stats.limits.upper_limit`), with the MINUIT fits and their settings
(:mod:`~agc.stats.migrad`), the worker processes of the impacts and limits
(:mod:`~agc.stats.pool`), the typed results (:mod:`~agc.stats.results`) and the
reproducibility contract of the minimiser outputs (:mod:`~agc.stats.reproducibility`,
:mod:`~agc.stats.numerics`). Draws nothing: the figures are :mod:`agc.plots`.
"""
