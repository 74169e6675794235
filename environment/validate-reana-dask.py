"""Validate a REANA specification with Dask resources offline, as a REANA >= 0.95 server would.

Usage (in .venv-reana-dask, made by `make reana-dask` from environment/reana-dask.txt):

    .venv-reana-dask/bin/python environment/validate-reana-dask.py reana-dask.yaml

Runs reana-commons' own validation of a submitted specification
(``reana_commons.validation.report.validate_serialized_spec``: the JSON schema that knows
``workflow.resources.dask``, parameters, compute backends, inputs, images, Dask limits) with the
policy of a cluster that allows Dask (the limits below; a real cluster checks its own at
submission). reana-client 0.95 validates only against a server it is logged in to, and
reana-client 0.9.x refuses ``resources.dask``. Prints every error and warning; exits 1 if there
is any, else prints "Valid REANA specification file" and exits 0.

A Snakemake specification (reana-snakemake.yaml) is validated the same way once its Snakefile is
loaded into ``workflow.specification`` by REANA 0.95's loader (``reana_commons.snakemake``, which
imports Snakemake 9.27.0): run it in .venv-snakemake9 (`make snakemake9`), which holds both.
"""

from __future__ import annotations

import sys
from importlib.metadata import version

import yaml
from reana_commons.validation.report import validate_serialized_spec

#: A cluster with Dask enabled and Kubernetes jobs (limits: memory per worker and in total,
#: workers, threads per worker).
POLICY = {
    "supported_backends": ["kubernetes"],
    "vetted_images_enabled": False,
    "dask_config": {
        "enabled": True,
        "max_memory_limit": "16Gi",
        "default_number_of_workers": 2,
        "max_number_of_workers": 20,
        "default_single_worker_memory": "2Gi",
        "max_single_worker_memory": "8Gi",
        "default_single_worker_threads": 1,
        "max_single_worker_threads": 8,
    },
}


def main(path: str) -> int:
    """Validate the specification ``path``; the exit code (0: valid without warnings)."""
    with open(path, encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    workflow = spec["workflow"]
    if workflow.get("type") == "snakemake":
        from reana_commons.snakemake import snakemake_load

        config = (spec.get("inputs") or {}).get("parameters", {}).get("input")
        workflow["specification"] = snakemake_load(workflow["file"], input=config, workdir=".")
    report = validate_serialized_spec(spec, POLICY)
    for kind in ("errors", "warnings"):
        for entry in report[kind]:
            where = f" at {entry['path']}" if entry.get("path") else ""
            print(f"{kind[:-1].upper()}: [{entry['code']}] {entry['message']}{where}")
    if not report["valid"] or report["warnings"]:
        return 1
    dask = (spec["workflow"].get("resources") or {}).get("dask")
    print(
        f"Valid REANA specification file: {path} "
        f"(reana-commons {version('reana-commons')}, Dask resources {dask})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "reana-dask.yaml"))
