# What a finished run of any of the four specifications shows, whatever its parameters: listed in
# their `tests.files`, run by `reana-client test` (REANA >= 0.95) on a cluster, by `make reana-test`
# against `make run`'s workspace (reana-commons' own parser, agc.workflow.featurecheck) and by
# tests/scenarios/test_features.py against the serial run on the small dataset. The steps are the
# vocabulary of reana_commons.gherkin_parser.functions. The bounds: `make run` takes about 4 minutes
# on 2 cores, the fit step about 1 (docs/performance.md); REANA adds pulling the image per job.
Feature: The AGC ttbar workflow runs to the end

    Scenario: The workflow finishes
        When the workflow execution completes
        Then the workflow status should be finished

    Scenario: The run leaves its products in the workspace
        When the workflow is finished
        Then the workspace should include "outputs/histograms.root"
        And the workspace should include "outputs/cutflow.json"
        And the workspace should include "outputs/workspace.json"
        And the workspace should include "outputs/fit_results.json"
        And the workspace should include "outputs/report.html"
        And the workspace should include "outputs/provenance.json"

    Scenario: The fit converges
        When the workflow is finished
        Then the job logs for the fit step should contain "fit converged: MIGRAD"
        And the file outputs/fit_results.json should contain ""success": true"

    Scenario: The run takes the time it should
        When the workflow is finished
        Then the workflow run duration should be less than 60 minutes
        And the duration of the step fit should be less than 20 minutes
