"""Statistical model: ``histograms.root`` -> cabinetry configuration -> pyhf workspace.

The model of the card (ANALYSIS.md, "Statistical model"): measurement ``CMS_ttbar``, regions
``4j1b CR`` (H_T) and ``4j2b SR`` (m_bjj), five simulated samples, pseudo-data as data, every
systematic of the card, and a free normalisation as parameter of interest. The configuration
is the template ``inputs/cabinetry.yaml`` with the histogram path, the binning and the
signal/POI filled in (:func:`build_config`).

Templates come from our pre-built histograms (fill binning: 25 bins of 20 GeV, 50-550 GeV).
cabinetry's own histogram collector cannot rebin, so, like the AGC reference, a cabinetry
``Router`` template builder reads each histogram with uproot and merges its bins onto the
region's ``Binning`` (default :data:`agc.core.physics.MODEL_BIN_EDGES`, 11 bins of 40 GeV,
110-550 GeV); under/overflow and the bins below 110 GeV are not part of the model.
``cabinetry.templates.postprocess`` and ``cabinetry.workspace.build`` then do the rest.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boost_histogram as bh
import cabinetry
import jsonschema
import numpy as np
import pyhf
import yaml
from cabinetry.templates import collector

from agc.core import physics, resources
from agc.core.errors import AGCError
from agc.core.fileio import write_json
from agc.stats.histograms import HistogramReader, rebin
from agc.stats.positivity import apply_bounds, clip_templates, physical_bounds

log = logging.getLogger(__name__)

#: Default cabinetry configuration template (in the workspace, else the analysis' own file).
DEFAULT_CONFIG = "inputs/cabinetry.yaml"
#: Folder (beside the workspace) where cabinetry keeps its intermediate template histograms.
HISTOGRAM_FOLDER_NAME = "histograms_cabinetry"
#: Default free-normalisation settings of a parameter of interest added for a new signal.
POI_NOMINAL = 1.0
POI_BOUNDS = (0.0, 10.0)

_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")


# --------------------------------------------------------------------------- configuration


def load_template(
    config: str | os.PathLike[str] | Mapping[str, Any] = DEFAULT_CONFIG,
) -> dict[str, Any]:
    """The cabinetry configuration template as a new dict (from a YAML path or a mapping)."""
    if isinstance(config, Mapping):
        return copy.deepcopy(dict(config))
    path = resources.resolve(config)  # CWL jobs run outside the workspace
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AGCError(f"{config}: cannot read cabinetry config ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise AGCError(f"{path}:{where} invalid YAML in cabinetry config") from None
    if not isinstance(data, dict):
        raise AGCError(f"{path}: cabinetry config must be a mapping, got {type(data).__name__}")
    return data


def validate_config(config: Mapping[str, Any], source: str = "cabinetry config") -> None:
    """Validate with ``cabinetry.configuration.validate``; raise :class:`AGCError` naming the key."""
    try:
        cabinetry.configuration.validate(dict(config))
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "<top level>"
        raise AGCError(f"{source}: invalid key at '{where}': {exc.message}") from None
    except (ValueError, NotImplementedError) as exc:
        raise AGCError(f"{source}: {exc}") from None


def _as_list(setting: Any) -> list[str]:
    if setting is None:
        return []
    return list(setting) if isinstance(setting, list) else [setting]


def _set_input_path(
    general: dict[str, Any], histograms: str | os.PathLike[str], source: str
) -> None:
    input_path = general["InputPath"]
    _, sep, object_part = input_path.rpartition(":")
    if not sep or "{RegionPath}" not in object_part:
        raise AGCError(
            f"{source}: invalid key at 'General/InputPath': expected "
            f"'<file>:{{RegionPath}}_{{SamplePath}}{{VariationPath}}', got {input_path!r}"
        )
    general["InputPath"] = f"{os.fspath(histograms)}:{object_part}"


def _apply_signal(config: dict[str, Any], signal: str, poi: str, source: str) -> None:
    """Make ``signal`` the signal sample with the free normalisation ``poi`` as POI.

    - ``poi`` already a NormFactor of the template: it must act on the signal sample.
    - else, a NormFactor acting only on a signal sample of the template is renamed ``poi``
      (``signal="ttbar", poi="mu"``);
    - else (a new signal process, e.g. ``zprime_1000``) a sample ``signal`` (histograms
      ``{region}_{signal}...``) and a NormFactor ``poi`` on it are added; the template's
      normalisations (ttbar_norm) stay free.
    """
    for name, value in (("signal", signal), ("poi", poi)):
        if not isinstance(value, str) or not _NAME_RE.match(value):
            raise AGCError(f"{source}: parameter '{name}' must match [A-Za-z0-9_]+, got {value!r}")
    samples: list[dict[str, Any]] = config["Samples"]
    matches = [s for s in samples if signal in (s.get("Name"), s.get("SamplePath"))]
    if any(s.get("Data", False) for s in matches):
        raise AGCError(f"{source}: signal '{signal}' is the data sample")
    normfactors: list[dict[str, Any]] = config["NormFactors"]
    by_name = {nf["Name"]: nf for nf in normfactors}
    if matches:
        sample = matches[0]
        if poi in by_name:
            affected = _as_list(by_name[poi].get("Samples"))
            if affected and sample["Name"] not in affected:
                raise AGCError(
                    f"{source}: POI '{poi}' (NormFactors) does not act on signal sample '{sample['Name']}'"
                )
        else:
            own = [nf for nf in normfactors if _as_list(nf.get("Samples")) == [sample["Name"]]]
            if own:
                own[0]["Name"] = poi
            else:
                normfactors.append(_poi_normfactor(poi, sample["Name"]))
    else:
        if poi in by_name:
            raise AGCError(
                f"{source}: POI '{poi}' is already the normalisation of "
                f"{_as_list(by_name[poi].get('Samples')) or 'all samples'}, choose another name for signal '{signal}'"
            )
        samples.append({"Name": signal, "SamplePath": signal})
        normfactors.append(_poi_normfactor(poi, signal))
    config["General"]["POI"] = poi


def _poi_normfactor(poi: str, sample: str) -> dict[str, Any]:
    return {"Name": poi, "Samples": sample, "Nominal": POI_NOMINAL, "Bounds": list(POI_BOUNDS)}


def build_config(
    histograms: str | os.PathLike[str] = "outputs/histograms.root",
    config: str | os.PathLike[str] | Mapping[str, Any] = DEFAULT_CONFIG,
    signal: str = "ttbar",
    poi: str = "ttbar_norm",
    *,
    histogram_folder: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """The cabinetry configuration of the measurement, validated with cabinetry.

    Args:
        histograms: path of ``histograms.root`` (our naming ``{region}_{process}[_{variation}]``).
        config: the YAML template (path) or an already-loaded template (mapping).
        signal: process used as signal (histogram name part); default ``ttbar``.
        poi: name of the free normalisation of the signal, the parameter of interest.
        histogram_folder: where cabinetry writes intermediate templates (default: template's).

    Returns:
        The configuration dict; regions without ``Binning`` get :data:`agc.core.physics.MODEL_BIN_EDGES`
        [GeV].
    """
    source = str(config) if not isinstance(config, Mapping) else "cabinetry config"
    cfg = load_template(config)
    validate_config(cfg, source)
    for region in cfg["Regions"]:
        region.setdefault("Binning", list(physics.MODEL_BIN_EDGES))
    _set_input_path(cfg["General"], histograms, source)
    if histogram_folder is not None:
        cfg["General"]["HistogramFolder"] = os.fspath(histogram_folder)
    _apply_signal(cfg, signal, poi, source)
    validate_config(cfg, source)
    return cfg


# --------------------------------------------------------------------------- templates


def _describe(
    region: dict[str, Any], sample: dict[str, Any], systematic: dict[str, Any], template: str | None
) -> str:
    variation = "nominal" if template is None else f"{systematic['Name']} {template}"
    return f"region '{region['Name']}', sample '{sample['Name']}', variation '{variation}'"


@contextmanager
def _template_router(config: Mapping[str, Any]) -> Iterator[Any]:
    """A cabinetry Router whose catch-all template builder reads and rebins our histograms."""
    general = config["General"]
    general_path = general["InputPath"]
    variation_path = general.get("VariationPath", "")
    source = HistogramReader()
    router = cabinetry.route.Router()

    @router.register_template_builder()
    def from_histograms_root(
        region: dict[str, Any],
        sample: dict[str, Any],
        systematic: dict[str, Any],
        template: str | None,
    ) -> bh.Histogram:
        # Same path logic as cabinetry.templates.collect (RegionPath/SamplePath/VariationPath).
        path = collector._histo_path(
            general_path, variation_path, region, sample, systematic, template
        )
        file_path, _, key = path.rpartition(":")
        what = _describe(region, sample, systematic, template)
        histogram = source.get(file_path, key, what)
        return rebin(
            histogram, region.get("Binning", physics.MODEL_BIN_EDGES), f"{file_path}:{key}"
        )

    try:
        yield router
    finally:
        source.close()


def collect_templates(config: Mapping[str, Any]) -> None:
    """Write cabinetry's template histograms (rebinned, post-processed) into ``HistogramFolder``."""
    with _template_router(config) as router:
        cabinetry.templates.build(dict(config), router=router)
    cabinetry.templates.postprocess(dict(config))


# --------------------------------------------------------------------------- workspace


def plain_json(value: Any, where: str = "") -> Any:
    """Plain Python types (float/int/str/list/dict) for canonical JSON; reject NaN/inf.

    ``where`` is the key path reported in the :class:`AGCError` for a non-finite number.
    """
    if isinstance(value, Mapping):
        return {str(k): plain_json(v, f"{where}/{k}") for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain_item(v, where, i) for i, v in enumerate(value)]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            raise AGCError(
                f"workspace: non-finite value {number} at '{where}' (empty nominal histogram?)"
            )
        return number
    return value


def _plain_item(value: Any, where: str, index: int) -> Any:
    """Item ``index`` of the sequence at ``where`` as :func:`plain_json` makes it; a finite
    float (most of a workspace) without building its key path."""
    if isinstance(value, float) and math.isfinite(value):
        return float(value)
    return plain_json(value, f"{where}/{index}")


def _check_finite(ws: Mapping[str, Any]) -> None:
    for channel in ws["channels"]:
        for sample in channel["samples"]:
            where = f"region '{channel['name']}', sample '{sample['name']}'"
            for modifier in sample["modifiers"]:
                try:
                    plain_json(modifier.get("data"), "")
                except AGCError:
                    raise AGCError(
                        f"workspace: non-finite {modifier['type']} '{modifier['name']}' for {where} "
                        "(empty nominal histogram?)"
                    ) from None


def build_workspace(
    histograms: str | os.PathLike[str],
    output: str | os.PathLike[str] = "outputs/workspace.json",
    config: str | os.PathLike[str] | Mapping[str, Any] = DEFAULT_CONFIG,
    signal: str = "ttbar",
    poi: str = "ttbar_norm",
) -> dict[str, Any]:
    """Build the pyhf workspace of the measurement from ``histograms`` and write it to ``output``
    (:func:`build_checked_workspace`).

    Returns:
        The workspace specification (plain dict, identical to the file's content).
    """
    return dict(build_checked_workspace(histograms, output, config, signal, poi))


def build_checked_workspace(
    histograms: str | os.PathLike[str],
    output: str | os.PathLike[str] = "outputs/workspace.json",
    config: str | os.PathLike[str] | Mapping[str, Any] = DEFAULT_CONFIG,
    signal: str = "ttbar",
    poi: str = "ttbar_norm",
) -> pyhf.Workspace:
    """Build the pyhf workspace of the measurement from ``histograms`` and write it to ``output``.

    Every expected yield is kept non-negative (:mod:`agc.stats.positivity`): negative bins of the
    HistoSys templates (symmetrised ``2 * nominal - up``) are set to 0, and HistoSys parameters
    whose linear extrapolation would reach a negative yield get bounds in the measurement.

    cabinetry's intermediate templates go to ``<output folder>/histograms_cabinetry`` (built in
    a fresh folder each run, then swapped in, so stale files never leak in). The workspace is
    validated with ``pyhf.Workspace`` and written atomically as canonical, sorted JSON.

    Returns:
        The :class:`pyhf.Workspace` that validated the specification (as a dict, the file's
        content): a caller fits it without reading and checking the file again
        (:func:`agc.stats.pyhfmodel.model_and_data`).
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    final_folder = output.parent / HISTOGRAM_FOLDER_NAME
    work_folder = Path(tempfile.mkdtemp(prefix=f".{HISTOGRAM_FOLDER_NAME}.", dir=output.parent))
    try:
        cfg = build_config(histograms, config, signal, poi, histogram_folder=work_folder)
        collect_templates(cfg)
        try:
            ws = cabinetry.workspace.build(cfg, with_validation=False)
        except ZeroDivisionError as exc:  # pragma: no cover (numpy warns instead)
            raise AGCError(f"workspace: {exc} (empty nominal histogram?)") from None
        _check_finite(ws)
        for template in clip_templates(ws):
            log.info("negative template bins set to 0: %s", template)
        apply_bounds(ws, physical_bounds(ws))
        ws = plain_json(ws, "")
        try:
            checked = pyhf.Workspace(ws)
        except pyhf.exceptions.InvalidSpecification as exc:
            raise AGCError(f"workspace: invalid pyhf specification: {exc}") from None
        write_json(output, ws)
        if final_folder.exists():
            shutil.rmtree(final_folder)
        os.replace(work_folder, final_folder)
    finally:
        if work_folder.exists():
            shutil.rmtree(work_folder, ignore_errors=True)
    return checked
