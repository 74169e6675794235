"""``agc optimise``: a selection threshold optimised by gradient descent through the analysis.

One cut of the card (the b-tag working point or the jet pT threshold) is relaxed into a sigmoid
weight (:mod:`~agc.optimise.relax`); the histograms of both regions are filled with the relaxed
weights (:mod:`~agc.optimise.templates`, from the events of :mod:`~agc.optimise.events`); the
expected uncertainty on ``ttbar_norm`` follows from the Hessian of the model's likelihood at the
Asimov point (:mod:`~agc.optimise.merit`), differentiable in the threshold
(:mod:`~agc.optimise.objective`). A scan with hard cuts validates the gradient
(:mod:`~agc.optimise.scan`); Adam (optax) finds the optimum (:mod:`~agc.optimise.descent`);
:mod:`~agc.optimise.pipeline` runs it all and writes ``<outdir>/optimise/``.

JAX is imported only inside this package (an import-linter contract), with ``jax_enable_x64``.
"""
