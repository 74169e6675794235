"""Reinterpretation: swap the signal (one declaration, :mod:`agc.reinterpret.signals`) and get a new
workspace, fit, CLs limits and a pyhf patchset (:mod:`agc.reinterpret.patchset`), reprocessing only
the new signal (:func:`agc.reinterpret.pipeline.reinterpret`, typed results in
:mod:`agc.reinterpret.results`).
"""
