"""The run's HTML report and what the stage notebooks display.

:func:`agc.report.build.build_report` writes ``report.html``: the summary from the run's outputs
(:mod:`~agc.report.summary`, :mod:`~agc.report.provenancebox`, :mod:`~agc.report.runoutputs`),
then the executed notebooks (:mod:`~agc.report.notebookcells`), built from small HTML parts
(:mod:`~agc.report.htmlparts`) and plots made small (:mod:`~agc.report.images`).
:mod:`~agc.report.display` turns stage results into the notebooks' Markdown tables and figures.
"""
