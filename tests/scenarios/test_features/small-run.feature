# The regression reference of the serial run on the small dataset (fixture serial_reference of
# tests/scenarios/conftest.py: the embedded recipe at 1 %, one file per sample, the iterative
# executor, no ML step, the small model of tests/engine_helpers.py), for the checksum steps of
# reana-commons' parser: the sha256 of its outputs that are bit-identical on every machine
# (docs/reproducibility.md; fit_results.json is not: its minimum moves in the last bits).
# A change of the analysis that changes these bytes changes them here too, with the reason.
Feature: The small run gives its reference bytes

    Scenario: The bit-identical outputs have their checksums
        When the workflow is finished
        Then the sha256 checksum of the file outputs/histograms.root should be a595338cc020a7f1cd08db5e6b612803085092223fa3599ea82e1e79c9a5e8e2
        And the sha256 checksum of the file outputs/cutflow.json should be f8ce3c70fc0f5af9b89e2eba6a3ccfac019efdd813552ec829cd82c6f5a0e179
        And the sha256 checksum of the file outputs/workspace.json should be eec34f2ef29dd66fc0c3ae4188ff461aa3efc580cd1ce38c987812a4a4e4fc89
