"""The analysis itself, as the physics card defines it (docs/analysis.md): what a physicist reviews.

- :mod:`~agc.analysis.selection`: object and event selection, the 4j1b and 4j2b regions, the
  observables (H_T, m_bjj) and the systematic weights;
- :mod:`~agc.analysis.jer`: the jet energy resolution variation's reproducible random numbers;
- :mod:`~agc.analysis.processor`: the coffea processor that applies them to a chunk of events
  and fills the histograms, with :mod:`~agc.analysis.exactsum` (exact, order-independent sums);
- the machine-learning extension: :mod:`~agc.analysis.mlfeatures` (the 20 features of a
  jet-parton assignment), :mod:`~agc.analysis.inference` (the AGC's BDTs),
  :mod:`~agc.analysis.assignment` (the best assignment per event) and
  :mod:`~agc.analysis.mltruth` (how often it is the true one).

How the events are read, split into chunks, distributed, checkpointed and written is the run
machinery of :mod:`agc.processing`. Beneath this package: :mod:`agc.core` only.
"""
