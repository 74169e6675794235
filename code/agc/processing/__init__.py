"""The event-processing stage: runs the analysis (:mod:`agc.analysis`) over the inputs -> exact
per-sample histogram sums -> ``histograms.root``.

The run machinery around the physics: input checks (:mod:`~agc.processing.inputs`), executors and
error translation (:mod:`~agc.processing.executors`, :mod:`~agc.processing.errors`), the run
that keeps whole files only (:mod:`~agc.processing.run`), chunk checkpoints
(:mod:`~agc.processing.checkpoint`), partial outputs (:mod:`~agc.processing.partials`),
normalisation and the final files (:mod:`~agc.processing.normalisation`,
:mod:`~agc.processing.output`), the content-addressed cache of per-sample sums
(:mod:`~agc.processing.cache`, keyed by :mod:`~agc.processing.cachekey`), the typed result
(:mod:`~agc.processing.results`), and the stage's entry points
:func:`agc.processing.histograms.run_histograms` and
:func:`~agc.processing.histograms.merge_partials`. Beneath it: :mod:`agc.analysis`,
:mod:`agc.dataset`, :mod:`agc.core` -- which, with this package, is exactly the code the cache key hashes
(:mod:`agc.core.codeversion`).
"""
