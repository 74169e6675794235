"""The statistical stage: ``histograms.root`` -> pyhf workspace (cabinetry,
:func:`agc.stats.model.build_workspace`) -> maximum-likelihood fit and impacts
(:func:`agc.stats.fit.run_fit`) -> CLs upper limits (:func:`agc.stats.limits.upper_limit`), with
the minimiser settings (:mod:`~agc.stats.fitsettings`) and the reproducibility contract of the
minimiser outputs (:mod:`~agc.stats.reproducibility`, :mod:`~agc.stats.numerics`). Draws nothing:
the figures are :mod:`agc.plots`.
"""
