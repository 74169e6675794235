"""What leaves the run: provenance (:mod:`agc.publish.provenance`), the HTML report
(:mod:`agc.publish.report`), the HEPData submission (:mod:`agc.publish.hepdata`) and the
deposit-ready archive (:func:`agc.publish.archive.build_archive`).
"""
