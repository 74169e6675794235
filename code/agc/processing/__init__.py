"""The event-processing stage: NanoAOD events -> exact per-sample histogram sums -> ``histograms.root``.

Selection and observables (:mod:`~agc.processing.selection`, :mod:`~agc.processing.jer`), the
coffea processor (:mod:`~agc.processing.processor`), exact summation
(:mod:`~agc.processing.exactsum`), chunk checkpoints, the content-addressed cache of per-sample
sums, and the stage's entry points :func:`agc.processing.histograms.run_histograms` and
:func:`~agc.processing.histograms.merge_partials`. Beneath it: :mod:`agc.dataset`, :mod:`agc.core`
-- which is exactly the code the cache key hashes (:mod:`agc.core.codeversion`).
"""
