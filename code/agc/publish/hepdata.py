"""HEPData submission of the analysis results, made with hepdata-lib and checked with hepdata-validator.

Tables (one YAML file each, plus ``submission.yaml``):

- one per paper distribution plot: ``<channel> pre-fit`` and ``<channel> post-fit`` -- binned
  yields [events] per sample and in total with the model's uncertainty (cabinetry's prediction,
  :func:`agc.stats.prediction.prediction`; post-fit from the parameters and correlations in
  ``fit_results.json``, no refit) and the pseudo-data with sqrt(N) errors;
- ``Fit result``: best-fit value and (HESSE) uncertainty of every parameter;
- ``Upper limits`` (when reinterpretation outputs exist): observed and expected 95 % CL upper
  limits on the signal strength per signal hypothesis, with the 1 and 2 sigma bands.

Resources: the fitted pyhf workspace (``workspace.json``) and, when the reinterpretation stage
has run, the HEPData-style likelihood ``likelihood.tar.gz`` (``BkgOnly.json`` + ``patchset.json``,
type ``HistFactory``), and the PNG of each plot. Only hepdata-lib's pure-Python parts
(Submission, Table, Variable, Uncertainty, additional resources) are used: no ROOT.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import json
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cabinetry
import numpy as np
from hepdata_lib import Submission, Table, Uncertainty, Variable
from hepdata_validator.full_submission_validator import FullSubmissionValidator

from agc.core.errors import AGCError
from agc.core.fileio import atomic_path
from agc.plots.figures import region_axis
from agc.stats.fit import load_model
from agc.stats.prediction import prediction

#: Significant digits written for every value (hepdata-lib rounds to 5 by default).
DIGITS: int = 10
#: Name of the likelihood tarball attached to the submission.
LIKELIHOOD_TARBALL: str = "likelihood.tar.gz"
#: Expected-limit band keys, from -2 sigma to +2 sigma.
BAND_KEYS: tuple[str, ...] = ("-2sigma", "-1sigma", "median", "+1sigma", "+2sigma")
_ABSTRACT = (
    "Binned yields, fit results and likelihood of the CMS 2015 Open Data ttbar analysis of the "
    "IRIS-HEP Analysis Grand Challenge (v2), reproduced by the agc-ttbar preservation package. "
    "The data are pseudo-data built from simulation (ttbar ME_var + PS_var)/2 + W+jets, "
    "normalised to 3378 /pb at 13 TeV."
)


def reproducible_tarball(path: str | os.PathLike[str], files: Mapping[str, Path]) -> Path:
    """Write a gzipped tarball of ``{archive name: file}`` whose bytes depend on the contents only
    (sorted members, zero mtimes/uid/gid, gzip header without time or name). The mode is 0o755
    for an executable file and 0o644 otherwise, as git records it: the executable bit is part
    of the code tree's SWHID, which must be the same unpacked from the tarball."""
    with (
        atomic_path(path) as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(files):
            data = Path(files[name]).read_bytes()
            info = tarfile.TarInfo(name)
            executable = os.stat(files[name]).st_mode & stat.S_IXUSR
            info.size, info.mtime, info.mode = len(data), 0, 0o755 if executable else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return Path(path)


def fit_results_from_json(results: Mapping[str, Any]) -> cabinetry.fit.FitResults:
    """Rebuild a :class:`cabinetry.fit.FitResults` from the content of ``fit_results.json``
    (:func:`agc.stats.fit.cabinetry_fit_results`)."""
    from agc.stats.fit import cabinetry_fit_results

    return cabinetry_fit_results(results)


def _binned_variable(edges: np.ndarray, label: str) -> Variable:
    variable = Variable(label, is_independent=True, is_binned=True, units="GeV")
    variable.values = [(float(lo), float(hi)) for lo, hi in itertools.pairwise(edges)]
    return variable


def _yield_variable(
    name: str, values: Sequence[float], errors: Sequence[float] | None, error_label: str
) -> Variable:
    variable = Variable(name, is_independent=False, is_binned=False, units="events")
    variable.digits = DIGITS
    variable.values = [float(v) for v in values]
    if errors is not None:
        uncertainty = Uncertainty(error_label, is_symmetric=True)
        uncertainty.values = [float(e) for e in errors]
        variable.add_uncertainty(uncertainty)
    return variable


def distribution_tables(
    model: Any,
    data: Sequence[float],
    fit_results: Any = None,
    config: Mapping[str, Any] | None = None,
    plots_dir: Path | None = None,
) -> list[Table]:
    """One table per channel: yields per sample, total and pseudo-data (pre- or post-fit).

    Values are expected events per bin (bins of the model, GeV); sample and total uncertainties
    are cabinetry's model uncertainty (all parameters, correlations included).
    """
    predicted = prediction(model, fit_results=fit_results)
    stage = "pre-fit" if fit_results is None else "post-fit"
    main = np.asarray(data[: model.config.nmaindata], dtype=float)
    samples = list(model.config.samples)
    tables = []
    for i_ch, channel in enumerate(model.config.channels):
        ch_data = main[model.config.channel_slices[channel]]
        edges, label = region_axis(channel, ch_data.size, config)
        table = Table(f"{channel} {stage}")
        table.description = (
            f"{stage.capitalize()} distribution of {label} in region {channel}: expected events "
            "per bin for every sample and in total, with the model uncertainty, and pseudo-data."
        )
        table.location = f"Figure {channel.replace(' ', '-')}_{stage.replace('-', '')}"
        table.keywords["observables"] = ["N"]
        table.keywords["cmenergies"] = [13000]
        table.keywords["reactions"] = ["P P --> TOP TOPBAR X"]
        table.add_variable(_binned_variable(edges, label.replace("$", "")))
        stdev = predicted.total_stdev_model_bins[i_ch]
        for i_s, sample in enumerate(samples):
            table.add_variable(
                _yield_variable(sample, predicted.model_yields[i_ch][i_s], stdev[i_s], "model")
            )
        total = np.sum(np.asarray(predicted.model_yields[i_ch]), axis=0)
        table.add_variable(_yield_variable("Total prediction", total, stdev[-1], "model"))
        table.add_variable(
            _yield_variable("Pseudo-data", ch_data, np.sqrt(np.clip(ch_data, 0, None)), "stat")
        )
        if plots_dir is not None:
            png = plots_dir / f"{channel.replace(' ', '-')}_{stage.replace('-', '')}.png"
            if png.is_file():
                table.add_additional_resource("Figure (PNG)", str(png), copy_file=True)
        tables.append(table)
    return tables


def fit_table(results: Mapping[str, Any], workspace: Path | None = None) -> Table:
    """Best-fit value and uncertainty of every parameter of ``fit_results.json``."""
    pars = results["parameters"]
    table = Table("Fit result")
    poi = results.get("poi", {})
    table.description = (
        f"Maximum-likelihood fit to the pseudo-data (measurement {results.get('measurement')}): "
        "best-fit value and HESSE uncertainty of every parameter. Parameter of interest "
        f"{poi.get('name')} = {poi.get('bestfit', float('nan')):.6g} +- "
        f"{poi.get('uncertainty', float('nan')):.6g}."
    )
    table.location = "Fit results (fit_results.json)"
    table.keywords["observables"] = ["SIG/SIG"]
    table.keywords["cmenergies"] = [13000]
    name = Variable("Parameter", is_independent=True, is_binned=False)
    name.values = list(pars["labels"])
    table.add_variable(name)
    value = Variable("Best-fit value", is_independent=False, is_binned=False)
    value.digits = DIGITS
    value.values = [float(v) for v in pars["bestfit"]]
    unc = Uncertainty("HESSE", is_symmetric=True)
    unc.values = [float(v) for v in pars["uncertainty"]]
    value.add_uncertainty(unc)
    table.add_variable(value)
    if workspace is not None and workspace.is_file():
        table.add_additional_resource(
            "pyhf workspace that was fitted (JSON)",
            str(workspace),
            copy_file=True,
            file_type="HistFactory",  # HEPData flags likelihoods by this type
        )
    return table


def _limit_record(path: Path) -> dict[str, Any] | None:
    """Observed/expected limits of one ``limits.json`` (tolerant of the layout), else None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    observed = next((data[k] for k in ("observed", "observed_limit", "obs") if k in data), None)
    expected = next((data[k] for k in ("expected", "expected_limits", "exp") if k in data), None)
    if isinstance(observed, dict):
        observed = observed.get("limit", observed.get("value"))
    if isinstance(expected, dict):
        expected = [expected.get(k) for k in BAND_KEYS] if "median" in expected else None
    if (
        not isinstance(observed, int | float)
        or not isinstance(expected, list)
        or len(expected) != 5
        or not all(isinstance(v, int | float) for v in expected)
    ):
        return None
    labels = data.get("labels") or data.get("label") or {}
    if not isinstance(labels, dict):
        labels = {"label": labels}
    mass = labels.get("mass", data.get("mass"))
    return {
        "signal": str(data.get("signal", path.parent.name)),
        "mass": float(mass) if isinstance(mass, int | float) else None,
        "observed": float(observed),
        "expected": [float(v) for v in expected],
    }


def limits_table(reinterpretation: Path) -> Table | None:
    """Upper limits per signal from ``<reinterpretation>/<signal>/limits.json`` (None if none)."""
    records = [
        r for r in (_limit_record(p) for p in sorted(reinterpretation.glob("*/limits.json"))) if r
    ]
    if not records:
        return None
    records.sort(key=lambda r: (r["mass"] is None, r["mass"] or 0.0, r["signal"]))
    table = Table("Upper limits")
    table.description = (
        "95 % CL (CLs) upper limits on the signal strength of each signal hypothesis: observed, "
        "and expected (median) with the 1 and 2 sigma bands given as asymmetric uncertainties."
    )
    table.location = "Reinterpretation (limits.json, limits_vs_mass)"
    table.keywords["observables"] = ["SIG/SIG"]
    table.keywords["cmenergies"] = [13000]
    if all(r["mass"] is not None for r in records):
        ind = Variable("Signal mass", is_independent=True, is_binned=False, units="GeV")
        ind.values = [r["mass"] for r in records]
    else:
        ind = Variable("Signal", is_independent=True, is_binned=False)
        ind.values = [r["signal"] for r in records]
    table.add_variable(ind)
    obs = Variable("Observed upper limit on mu", is_independent=False, is_binned=False)
    obs.digits = DIGITS
    obs.values = [r["observed"] for r in records]
    table.add_variable(obs)
    exp = Variable("Expected upper limit on mu", is_independent=False, is_binned=False)
    exp.digits = DIGITS
    exp.values = [r["expected"][2] for r in records]
    for label, lo, hi in (("1 sigma", 1, 3), ("2 sigma", 0, 4)):
        band = Uncertainty(label, is_symmetric=False)
        band.values = [
            (r["expected"][lo] - r["expected"][2], r["expected"][hi] - r["expected"][2])
            for r in records
        ]
        exp.add_uncertainty(band)
    table.add_variable(exp)
    return table


@dataclass(frozen=True)
class SubmissionResult:
    """A HEPData submission as :func:`build_submission` leaves it.

    ``folder``: the submission folder; ``tables``: table names in order; ``resources``: file names
    of the additional resources (the likelihood tarball first, then the copied files);
    ``valid`` / ``messages``: hepdata-validator's verdict and one line per problem.
    """

    folder: str
    tables: list[str]
    resources: list[str]
    valid: bool
    messages: list[str]

    def to_dict(self) -> dict[str, Any]:
        """``{"folder", "tables", "resources", "valid", "messages"}``."""
        return asdict(self)


def read_fit(outdir: Path) -> tuple[Path, Any, Any, dict[str, Any], cabinetry.fit.FitResults]:
    """The fitted workspace of a run and its fit: ``(workspace path, pyhf model, data, content of
    fit_results.json, cabinetry FitResults)``; AGCError if missing or if they do not match."""
    ws_path, fit_path = outdir / "workspace.json", outdir / "fit_results.json"
    for needed in (ws_path, fit_path):
        if not needed.is_file():
            raise AGCError(f"HEPData submission: missing {needed}")
    _, model, data = load_model(ws_path)
    try:
        results = json.loads(fit_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AGCError(f"{fit_path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    fit_results = fit_results_from_json(results)
    if list(fit_results.labels) != list(model.config.par_names):
        raise AGCError(f"{fit_path}: parameters do not match those of {ws_path}")
    return ws_path, model, data, results, fit_results


def submission_tables(outdir: Path, config: Mapping[str, Any] | None = None) -> Submission:
    """hepdata-lib's :class:`Submission` of the run in ``outdir`` with every table (pre- and
    post-fit distributions, fit result, upper limits if reinterpretation outputs exist)."""
    ws_path, model, data, results, fit_results = read_fit(outdir)
    plots = outdir / "plots"
    submission = Submission()
    submission.comment = _ABSTRACT
    for table in distribution_tables(model, data, None, config, plots):
        submission.add_table(table)
    for table in distribution_tables(model, data, fit_results, config, plots):
        submission.add_table(table)
    submission.add_table(fit_table(results, ws_path))
    reinterpretation = outdir / "reinterpretation"
    limits = limits_table(reinterpretation) if reinterpretation.is_dir() else None
    if limits is not None:
        submission.add_table(limits)
    return submission


def attach_likelihood(submission: Submission, reinterpretation: Path, scratch: Path) -> list[str]:
    """Attach ``likelihood.tar.gz`` (BkgOnly.json + patchset.json, written into ``scratch``) when
    the reinterpretation stage published them; the names of the resources attached."""
    bkg, patchset = reinterpretation / "BkgOnly.json", reinterpretation / "patchset.json"
    if not (bkg.is_file() and patchset.is_file()):
        return []
    scratch.mkdir()
    tarball = reproducible_tarball(
        scratch / LIKELIHOOD_TARBALL, {"BkgOnly.json": bkg, "patchset.json": patchset}
    )
    submission.add_additional_resource(
        "Full statistical model (pyhf JSON: background-only workspace and signal "
        "patchset; `pyhf patchset apply BkgOnly.json patchset.json --name <patch>`)",
        str(tarball),
        copy_file=True,
        file_type="HistFactory",
    )
    return [LIKELIHOOD_TARBALL]


def build_submission(
    outdir: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    config: Mapping[str, Any] | None = None,
    validate: bool = True,
) -> SubmissionResult:
    """Build the HEPData submission of the run in ``outdir`` into the folder ``dest``.

    Reads ``outdir/workspace.json``, ``outdir/fit_results.json``, ``outdir/plots/*.png`` and,
    when present, ``outdir/reinterpretation/{BkgOnly.json,patchset.json,*/limits.json}``.
    ``dest`` is replaced atomically (built beside it, then renamed); ``dest/../<name>.tar.gz``
    is not written here (see :func:`agc.publish.archive.build_archive`).

    Raises :class:`AGCError` if hepdata-validator rejects the submission (with ``validate``).
    """
    outdir, dest = Path(outdir), Path(dest)
    submission = submission_tables(outdir, config)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        resources = attach_likelihood(submission, outdir / "reinterpretation", staging / "scratch")
        folder = staging / "submission"
        # hepdata-lib writes submission.tar.gz into the working directory: keep it in staging.
        # Its per-bin notes (zero uncertainties of empty bins) go to stdout: keep them out.
        with contextlib.chdir(staging), contextlib.redirect_stdout(io.StringIO()):
            submission.create_files(str(folder), validate=False)
        (staging / "submission.tar.gz").unlink(missing_ok=True)
        shutil.rmtree(staging / "scratch", ignore_errors=True)
        valid, messages = validate_submission(folder)
        if validate and not valid:
            raise AGCError(f"HEPData submission is invalid: {messages[0] if messages else '?'}")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(folder, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return SubmissionResult(
        folder=str(dest),
        tables=[t.name for t in submission.tables],
        resources=resources + sorted(p.name for p in dest.glob("*") if p.suffix != ".yaml"),
        valid=valid,
        messages=messages,
    )


def validate_submission(folder: str | os.PathLike[str]) -> tuple[bool, list[str]]:
    """hepdata-validator's full check of a submission folder: (valid, one line per problem)."""
    validator = FullSubmissionValidator()
    valid = bool(validator.validate(directory=str(folder)))
    messages = [
        f"{Path(name).name}: {message.message}"
        for name, items in sorted(validator.get_messages().items())
        for message in items
    ]
    return valid, messages
