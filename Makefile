# Two commands do all set-up:  `make run`  and  `make test`.
# Every target builds the virtual environment .venv from the pinned lock first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := environment/requirements.lock

## Every virtual environment comes from one rule, venv_rule, with the arguments
##   (1) the prefix of its variables: its stamp is $(1)STAMP, its extra set-up $(1)POST_INSTALL;
##   (2) its folder; (3) its hash-pinned lock; (4) the files whose change rebuilds it.
## The stamp file <folder>/.installed-<hash> is named after the hash of (4): an edited lock (or,
## for .venv, pyproject.toml) gives a new name, hence a rebuild; an unchanged one rebuilds nothing.
files_hash = $(shell sha256sum $(1) $(if $(word 2,$(1)),| sha256sum) | cut -c1-12)
define venv_rule
$(1)STAMP := $(2)/.installed-$(call files_hash,$(4))
$$($(1)STAMP): $(4)
	@test -x $(2)/bin/python || $$(PYTHON) -m venv $(2)
	$(2)/bin/python -m pip install --quiet --require-hashes --no-deps -r $(3)
	$$($(1)POST_INSTALL)
	@rm -f $(2)/.installed-*
	@touch $$@
endef

## The analysis environment: the lock, the package itself (editable), its Jupyter kernel and
## the numba kernels of a run compiled into numba's cache (agc compile-kernels, about 10 s).
POST_INSTALL := $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . \
  && $(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (agc)" >/dev/null \
  && $(BIN)/agc compile-kernels
$(eval $(call venv_rule,,$(VENV),$(LOCK),$(LOCK) pyproject.toml))
## reana-client pins old jsonschema/cwltool: it lives in its own environment, .venv-reana.
REANA_VENV := .venv-reana
$(eval $(call venv_rule,REANA_,$(REANA_VENV),environment/reana-client.txt,environment/reana-client.txt))
## cffconvert and runcrate pin old jsonschema/cwltool: their own environment, .venv-archive.
ARCHIVE_VENV := .venv-archive
$(eval $(call venv_rule,ARCHIVE_,$(ARCHIVE_VENV),environment/archive-tools.txt,environment/archive-tools.txt))
## Snakemake 7.32.4 (what REANA 0.9's Snakemake engine runs) in its own environment.
SNAKEMAKE_VENV := .venv-snakemake
$(eval $(call venv_rule,SNAKEMAKE_,$(SNAKEMAKE_VENV),environment/snakemake.txt,environment/snakemake.txt))
## Snakemake 9.27.0 (what REANA 0.95's Snakemake engine runs) in its own environment.
SNAKEMAKE9_VENV := .venv-snakemake9
$(eval $(call venv_rule,SNAKEMAKE9_,$(SNAKEMAKE9_VENV),environment/snakemake9.txt,environment/snakemake9.txt))
## zizmor, the checker of the CI definition (.github/workflows/) in make lint.
CI_LINT_VENV := .venv-ci-lint
$(eval $(call venv_rule,CI_LINT_,$(CI_LINT_VENV),environment/ci-lint.txt,environment/ci-lint.txt))
## reana-commons 0.95 (its schema knows workflow.resources.dask) for validating reana-dask.yaml.
REANA_DASK_VENV := .venv-reana-dask
$(eval $(call venv_rule,REANA_DASK_,$(REANA_DASK_VENV),environment/reana-dask.txt,environment/reana-dask.txt))

PARAMS ?=
## The analysis image every step runs in: environment/image is the one place that names it.
IMAGE := $(shell tr -d '[:space:]' < environment/image)
PYTEST_ARGS ?=
ARCHIVE_ARGS ?=
NUMERICS_ARGS ?=

.PHONY: all venv run run-cwl run-snakemake run-snakemake9 snakemake snakemake9 reana-test reana-dask test test-full test-numerics ml-references bench lint data reana-client archive-tools validate archive verify-archive reproduce reinterpret clean image set-image run-container test-container

all: run

venv: $(STAMP)

archive-tools: $(ARCHIVE_STAMP)

reana-client: $(REANA_STAMP)
	@echo "reana-client: $(REANA_VENV)/bin/reana-client (export REANA_SERVER_URL and REANA_ACCESS_TOKEN to use it)"

snakemake: $(SNAKEMAKE_STAMP)

snakemake9: $(SNAKEMAKE9_STAMP)

reana-dask: $(REANA_DASK_STAMP)

## Validate the REANA specifications (no server needed): serial, CWL, Snakemake (reana-client
## 0.9.6, which dry-runs the Snakefile with Snakemake 7.32.4); reana-dask.yaml, reana.yaml and
## reana-snakemake.yaml (its Snakefile loaded with Snakemake 9.27.0) with reana-commons 0.95's
## validation (reana-client 0.9.x does not know workflow.resources.dask).
validate: $(STAMP) $(REANA_STAMP) $(REANA_DASK_STAMP) $(SNAKEMAKE9_STAMP)
	PATH="$(CURDIR)/$(REANA_VENV)/bin:$$PATH" $(REANA_VENV)/bin/reana-client validate -f reana.yaml
	PATH="$(CURDIR)/$(REANA_VENV)/bin:$$PATH" $(REANA_VENV)/bin/reana-client validate -f reana-cwl.yaml
	PATH="$(CURDIR)/$(REANA_VENV)/bin:$$PATH" $(REANA_VENV)/bin/reana-client validate -f reana-snakemake.yaml
	$(REANA_DASK_VENV)/bin/python environment/validate-reana-dask.py reana-dask.yaml
	$(REANA_DASK_VENV)/bin/python environment/validate-reana-dask.py reana.yaml
	PATH="$(CURDIR)/$(SNAKEMAKE9_VENV)/bin:$$PATH" $(SNAKEMAKE9_VENV)/bin/python environment/validate-reana-dask.py reana-snakemake.yaml
	$(BIN)/cwltool --validate workflow/workflow.cwl

## `reana-client test` of REANA >= 0.95, here: the feature files of reana.yaml's tests.files, run by
## reana-commons 0.95's Gherkin parser (.venv-reana-dask) against the workspace of the last
## `make run` (its outputs, step logs and record, outputs/logs/workflow.json).
reana-test: $(REANA_DASK_STAMP)
	PYTHONPATH=code $(REANA_DASK_VENV)/bin/python -m agc.workflow.featurecheck --workspace . --spec reana.yaml

## The embedded default dataset (deterministic synthetic NanoAOD) under data/embedded/.
data: $(STAMP)
	$(BIN)/agc generate --output data/embedded

## (Generated once for make reinterpret; every input is checked against its sha256 when read.)
data/embedded/manifest.json: inputs/embedded.yaml | $(STAMP)
	$(BIN)/agc generate --output data/embedded

## The package's bytecode, written before a run or the tests: every step is a new Python
## process importing the package from code/, and PYTHONDONTWRITEBYTECODE (set in the image and
## on some machines) would have each of them compile it again (about 0.1 s a process).
BYTECODE = @$(BIN)/python -m compileall -q code

## Run the whole workflow (reana.yaml's serial steps, locally) on the embedded default.
run: $(STAMP)
	$(BYTECODE)
	$(BIN)/agc run-serial reana.yaml $(PARAMS)

## Build environment/Dockerfile with podman as $(IMAGE) (a Debian base made with mmdebstrap when
## the registry base cannot be reached); prints the image ID, size and build time.
image:
	bash environment/build-image.sh

## Name another image everywhere (environment/image, reana.yaml, workflow/*.cwl), e.g. your registry's.
set-image:
	@test -n "$(TO)" || { echo "make set-image: give the new name, e.g. TO=docker.io/you/agc-ttbar:0.1.0" >&2; exit 2; }
	sed -i 's|$(IMAGE)|$(TO)|g' reana.yaml workflow/*.cwl
	echo "$(TO)" > environment/image
	@echo "image: $(TO) (make image builds it under that name)"

## reana.yaml's steps in the image, as REANA runs them: a fresh workspace (build/reana-workspace)
## holding only the uploaded inputs, each command as 1000:0 without network (needs `make image`).
run-container: $(STAMP)
	$(BIN)/agc run-serial reana.yaml --container $(IMAGE) $(PARAMS)

## The container checks (tests marked `container`): builds the image, runs both workflows in it.
## Outside CI they skip, with the reason, when podman/buildah are missing; under CI=true they run.
test-container: $(STAMP) $(REANA_STAMP)
	$(BIN)/python -m pytest -m container $(PYTEST_ARGS)

## Run the CWL workflow locally with cwltool.
run-cwl: $(STAMP)
	$(BYTECODE)
	$(BIN)/agc run-cwl $(PARAMS)

## Run the Snakemake workflow (reana-snakemake.yaml -> workflow/Snakefile) locally with Snakemake
## 7.32.4 from .venv-snakemake, every job with .venv first on PATH; outputs under outputs/snakemake
## (PARAMS="-p name=value", checked first; -p outdir=... moves them), its log in
## outputs/logs/snakemake.log. Every job runs again (--forceall), as with `make run`.
SNAKEMAKE_CORES ?= 2
run-snakemake: $(STAMP) $(SNAKEMAKE_STAMP)
	$(BYTECODE)
	$(BIN)/agc run-snakemake --snakemake $(SNAKEMAKE_VENV)/bin/snakemake --cores $(SNAKEMAKE_CORES) $(PARAMS)

## The same with Snakemake 9.27.0, the engine of REANA 0.95 (.venv-snakemake9).
run-snakemake9: $(STAMP) $(SNAKEMAKE9_STAMP)
	$(BYTECODE)
	$(BIN)/agc run-snakemake --snakemake $(SNAKEMAKE9_VENV)/bin/snakemake --cores $(SNAKEMAKE_CORES) $(PARAMS)

## The test suite: every behaviour, the end-to-end runs of every engine on the small generated
## dataset (the embedded recipe at 1 %). The checks that need the full embedded default run in
## make test-full, the image in make test-container. TEST_WORKERS=2 runs the tests in two
## pytest-xdist processes (the tests sharing a workflow run stay in one of them: tests/conftest.py);
## the default runs them in this one process (docs/performance.md says why).
TEST_WORKERS ?= 0
test: $(STAMP) $(REANA_STAMP) $(ARCHIVE_STAMP) $(SNAKEMAKE_STAMP) $(SNAKEMAKE9_STAMP) $(REANA_DASK_STAMP)
	$(BYTECODE)
	$(BIN)/python -m pytest -m "not container and not full" -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

## The checks of the full embedded default (tests marked `full`): its regression references
## (histograms, cut flow, workspace, fit results, plots, ML model, limits) and its physics checks;
## and the Snakemake run under REANA 0.9's Snakemake (make test runs REANA 0.95's).
test-full: $(STAMP) $(SNAKEMAKE_STAMP)
	$(BYTECODE)
	$(BIN)/python -m pytest -m "full and not container" $(PYTEST_ARGS)

## The ML model's regression references, regenerated on purpose: the ML histograms of
## the embedded default (tests/stats/test_mlmodel.py). The first pytest writes them (and fails, as pytest-regressions does), the
## second checks them; review `git diff tests/stats/test_mlmodel` and commit with the reason.
ml-references: $(STAMP)
	rm -f tests/stats/test_mlmodel/*
	-$(BIN)/python -m pytest -p no:cacheprovider -q tests/stats/test_mlmodel.py -k regression
	$(BIN)/python -m pytest -p no:cacheprovider -q tests/stats/test_mlmodel.py

## The minimiser tests under other numerical environments (OpenBLAS kernels and thread counts,
## numpy without AVX2/AVX-512), against the same references; prints each output's spread.
test-numerics: $(STAMP)
	$(BIN)/python -m agc.stats.numerics $(NUMERICS_ARGS)

## Throughput benchmarks (printed figures, no timed tests): event processing; the scale-out table
## (iterative, futures and Dask at 1 and 2 workers, per-core efficiency, read floor); TTree vs RNTuple on
## the same events; the Dask scale-out (events/s with 1 and 2 Dask workers on a generated ~2.2
## M-event dataset, a temporary folder); the statistics stage on the last run's workspace (made by
## `make run` if missing); the ML extension (events/s without and with the BDT inference, its
## assignment accuracy) on the embedded default; one file of it through the package, the AGC
## reference processor of the tests and the read floor (CPU seconds, ratios).
bench: $(STAMP) data/embedded/manifest.json
	$(BIN)/agc bench events
	$(BIN)/agc bench scaleout
	$(BIN)/agc bench formats
	$(BIN)/agc bench dask
	$(BIN)/agc bench ml
	$(BIN)/python tests/agc_reference_bench.py
	@test -f outputs/workspace.json || $(MAKE) run
	$(BIN)/agc bench stats

## Reinterpretation: swap the signal (one parameter); only the signal sample is processed,
## the rest comes from the content-addressed cache under outputs/cache.
SIGNAL ?= inputs/signals/zprime_1000.yaml
reinterpret: $(STAMP) data/embedded/manifest.json
	$(BIN)/agc reinterpret --signal $(SIGNAL) --inputs embedded --outdir outputs
	@# the run's report (after `make run`) gains the limits section; the run's provenance.json stays
	if [ -d outputs/notebooks ]; then $(BIN)/python -c 'from agc.report.build import build_report; \
	  print("report:", build_report("outputs/notebooks", "outputs/report.html"))'; fi

## Deposit-ready archive of the last run (CITATION, .zenodo.json, codemeta.json, HEPData, BagIt bag
## with the Workflow Run RO-Crate of the CWL run: made once with `agc run-cwl --provenance` when
## outputs/cwl-provenance is missing; runcrate comes from .venv-archive).
archive: $(STAMP) $(ARCHIVE_STAMP)
	test -d outputs/cwl-provenance || $(BIN)/agc run-cwl --provenance $(PARAMS)
	$(BIN)/agc archive $(ARCHIVE_ARGS)

## Re-check an archive (default outputs/archive): one line per check, exit 1 on any failure.
ARCHIVE ?= outputs/archive
verify-archive: $(STAMP)
	$(BIN)/agc verify-archive $(ARCHIVE)

## Reproduce the archived run from its bag tarball (agc reproduce) in a fresh build/reproduction-<UTC time>/:
## a venv from the archived lock (REPRODUCE_ARGS="--reuse-env": this .venv; "--container": the archived image),
## the regenerated inputs, a rerun of the archived reana.yaml; the verdict table, exit 1 if anything is not reproduced.
REPRODUCE_ARGS ?=
reproduce: $(STAMP)
	$(BIN)/agc reproduce $(ARCHIVE)/agc-ttbar-*-bag.tar.gz $(REPRODUCE_ARGS)

## The code, its import layers and the CI definition (zizmor offline: no GitHub API calls).
lint: $(STAMP) $(CI_LINT_STAMP)
	$(BIN)/ruff check code tests
	$(BIN)/ruff format --check code tests
	$(BIN)/lint-imports pyproject.toml --no-cache
	$(CI_LINT_VENV)/bin/zizmor --offline .github/workflows

clean:
	rm -rf outputs data
