"""agc.workflow.snakemake_run: the configuration of a local Snakemake run and its failure line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agc.core.errors import AGCError
from agc.core.parameters import defaults
from agc.workflow.snakemake_run import (
    SNAKEMAKE_OUTDIR,
    failed_rule,
    snakemake_config,
    snakemake_failure,
)

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "workflow" / "config.yaml"


def test_the_configuration_is_the_defaults_with_the_overrides_typed() -> None:
    config = snakemake_config(CONFIG, {"max_files": "3", "skip_bad_files": "true"})
    assert config == dict(defaults(), outdir=SNAKEMAKE_OUTDIR, max_files=3, skip_bad_files=True)
    assert snakemake_config(CONFIG, {"outdir": "elsewhere"})["outdir"] == "elsewhere"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"workerz": "2"}, "unknown parameter 'workerz' for config.yaml; declared: chunksize,"),
        ({"outdir": "a$(id)"}, "config.yaml: parameter 'outdir' contains '$'"),
        ({"samples": "x\ny"}, "config.yaml: parameter 'samples' contains '\\n'"),
        ({"workers": "two"}, "config.yaml: parameter 'workers' must be an integer"),
    ],
)
def test_a_bad_override_is_one_line(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(AGCError) as info:
        snakemake_config(CONFIG, overrides)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_a_configuration_that_is_no_mapping_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text(yaml.safe_dump(["outdir"]))
    with pytest.raises(AGCError, match="expected a mapping"):
        snakemake_config(bad, None)


LOG = """\
[Sat Dec  5 02:19:31 2026]
rule histograms:
    jobid: 3
Traceback (most recent call last):
papermill.exceptions.PapermillExecutionError:
AGCError: cannot read ROOT file data/x.root (sample ttbar__nominal): not ROOT
[Sat Dec  5 02:19:39 2026]
Error in rule histograms:
    jobid: 3
    shell:
        PYTHONPATH=code papermill -k python3 notebooks/01_histograms.ipynb ...
        (one of the commands exited with non-zero exit code; note that snakemake uses bash strict mode!)
Shutting down, this might take some time.
Exiting because a job execution failed. Look above for error message
""".splitlines(keepends=True)


def test_a_failure_names_the_rule_and_the_job_s_own_error(tmp_path: Path) -> None:
    assert failed_rule(LOG) == "histograms"
    assert snakemake_failure(1, LOG, tmp_path / "x.log") == (
        "Snakemake workflow, rule 'histograms': cannot read ROOT file data/x.root "
        "(sample ttbar__nominal): not ROOT"
    )


def test_a_failure_without_an_error_line_names_the_exit_code_and_the_log(tmp_path: Path) -> None:
    lines = ["Building DAG of jobs...\n", "SyntaxError in file workflow/Snakefile, line 3\n"]
    assert failed_rule(lines) is None
    assert snakemake_failure(1, lines, tmp_path / "s.log") == (
        f"Snakemake workflow failed (Snakemake exit code 1); its log: {tmp_path / 's.log'}"
    )
