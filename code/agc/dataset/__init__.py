"""The dataset stage: input declarations (:mod:`agc.dataset.manifest`, the AGC file-list layout),
the deterministic synthetic NanoAOD generator of the embedded default (entry module
:mod:`agc.dataset.generate`; recipe, seeds, partons, genpart, jets, qgl, leptons, events,
branches and writer modules beneath it), its read-back (:mod:`agc.dataset.readback`) and the stage's entry point
:func:`agc.dataset.stage.prepare_dataset`. Beneath it: :mod:`agc.core` only.
"""
