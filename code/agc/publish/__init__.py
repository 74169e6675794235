"""What leaves the run: provenance (:mod:`agc.publish.provenance`, also the one definition of a
"dirty" checkout), the citation metadata
(:mod:`agc.publish.citation`), the HEPData submission (:mod:`agc.publish.hepdata`) and the
deposit-ready archive (:func:`agc.publish.archive.build_archive`, its ``SHA256SUMS``:
:mod:`agc.publish.checksums`) and its verification (:mod:`agc.publish.verify`).
"""
