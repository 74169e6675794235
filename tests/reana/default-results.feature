# The bytes of a run with the default parameters on the embedded default dataset (`make run`, or
# `reana-client run` without -p): the sha256 of the outputs that reproduce bit for bit on every
# machine, with any engine or executor (docs/reproducibility.md). fit_results.json has no checksum
# here: its minimum moves in the last bits between machines. A run with other parameters (say
# -p max_files=1) gives other bytes and fails this file by design; workflow-run.feature holds for
# every run. `make test-full` checks these values against the embedded default's histograms and
# workspace; a change of the analysis that changes them changes them here too, with the reason.
Feature: The embedded default gives its published bytes

    Scenario: The bit-identical outputs have their checksums
        When the workflow is finished
        Then the sha256 checksum of the file outputs/histograms.root should be 7cc18288b8938a41b7bf39b414fa71e33d222b77031f8339a160f7171466a8d6
        And the sha256 checksum of the file outputs/cutflow.json should be 5f4edb7b3ecfbe13e7f399c472c7310453441f5c5c3b144ffeb8fe5506582a3c
        And the sha256 checksum of the file outputs/workspace.json should be fcfc5fbb4a457e262c7257df804933aa6144dc11d1471266a723aa6ee641df5c
