"""The reproducibility contract: which outputs are bit-identical, and how close the others are.

Bit-identical on any machine, for any executor, chunk size, worker count and workflow engine:
the event selection and cut flow, ``histograms.root`` (exact fixed-point accumulation, see
:mod:`agc.analysis.processor`), the partial outputs and ``workspace.json`` (built from those bytes by
cabinetry without any minimisation). Tests compare them byte for byte.

Reproducible to a tolerance: everything a minimiser makes (``fit_results.json``, the impact
ranking, the limits). Two numerical environments -- another OpenBLAS kernel, another BLAS thread
count, numpy's SIMD paths on or off, another CPU -- sum the same floating-point terms in another
order, so -2 ln L differs in its last bits; MIGRAD's path through parameter space then differs
by rounding too, and it stops wherever its estimated distance to the minimum (EDM) drops below
its goal. The tolerances below follow from that stopping rule and from the precision of the
numerical second derivatives, not from what happened to pass once:

- **best-fit values**: MIGRAD stops at ``EDM < 0.002 * tolerance`` (errordef 1, the cost is
  -2 ln L). MINUIT's EDM is ``g^T V g / 2``; for one quadratic parameter that is
  ``2 (x - x_min)^2 / sigma^2``, so a converged parameter is within ``sqrt(EDM / 2) * sigma``
  of the minimum: with :attr:`agc.stats.migrad.FitSettings.tolerance` = 1e-4, EDM < 2e-7 and
  ``|x - x_min| < 3.2e-4 sigma``; two environments differ by at most twice that. The contract,
  ``|dx| <= 2e-3 sigma_x`` (``BESTFIT_SIGMA``) per parameter, leaves a factor 3 for a minimum
  that is not exactly quadratic and for EDM being an estimate.
- **-2 ln L at the minimum**: within EDM of the minimum each: ``|d(-2 ln L)| <= 1e-5``
  (``TWICE_NLL_ABS``; one unit is one standard deviation).
- **uncertainties and correlations** come from HESSE's finite-difference second derivatives at
  that minimum, whose step sizes MINUIT adapts from its state: they reproduce to the precision
  of a numerical Hessian, ``|d sigma| <= 1e-2 sigma`` (``UNCERTAINTY_REL``) and
  ``|d rho| <= 1e-2`` (``CORRELATION_ABS``) -- the precision to which an uncertainty is quoted.
  Measured on the default model: HESSE at minima moved by 1e-7 (relative) spreads the
  uncertainties by up to 0.43 % (its step-size iteration stops at a tolerance), and the
  numerical-environment matrix by 0.45 %; the main fit's covariance comes from one HESSE at the
  minimum (:func:`agc.stats.fit.final_covariance`), not from the state MIGRAD's path left.
- **impacts**: the shift of the POI when one parameter is held at its best fit +- its (pre- or
  post-fit) uncertainty: the difference of two minima (``2 * BESTFIT_SIGMA * sigma_POI``) plus
  the post-fit uncertainty's own relative precision: ``|d impact| <= 4e-3 sigma_POI +
  1e-2 |impact|`` (``IMPACT_POI_SIGMA``, ``IMPACT_REL``).
- **goodness of fit** (a p-value from -2 ln L): ``|dp| <= 1e-4`` (``P_VALUE_ABS``).
- **CLs upper limits**: the limits are roots of CLs = 0.05 found to 1e-3 relative
  (:mod:`agc.stats.limits`), so two environments may land anywhere in that window:
  ``|d limit| <= 1e-2 * (expected_+1 - expected_-1) / 2`` (``LIMIT_BAND``), one hundredth of the
  expected 1-sigma band, which is wider than the root finder's precision.

:func:`compare_fit_results` and :func:`compare_limits` return every violation (empty when the
contract holds); :func:`spread` summarises several environments' outputs against a reference.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

#: Best-fit values: |dx| <= BESTFIT_SIGMA * sigma_x (from MIGRAD's EDM goal, see module doc).
BESTFIT_SIGMA: float = 2e-3
#: -2 ln L at the minimum: absolute.
TWICE_NLL_ABS: float = 1e-5
#: HESSE uncertainties: relative.
UNCERTAINTY_REL: float = 1e-2
#: Correlation coefficients: absolute.
CORRELATION_ABS: float = 1e-2
#: Impacts: absolute part, in units of the POI's uncertainty (two minima).
IMPACT_POI_SIGMA: float = 2 * BESTFIT_SIGMA
#: Impacts: relative part (the post-fit uncertainty that sets the shift).
IMPACT_REL: float = UNCERTAINTY_REL
#: Goodness-of-fit p-value: absolute.
P_VALUE_ABS: float = 1e-4
#: CLs limits: fraction of the expected 1-sigma band's half-width.
LIMIT_BAND: float = 1e-2


class Deviation(NamedTuple):
    """One compared number: ``output`` (e.g. ``bestfit[ttbar_norm]``), both values, the allowed
    absolute difference and ``used`` = |obtained - reference| / allowed (> 1 violates)."""

    output: str
    obtained: float
    reference: float
    allowed: float

    @property
    def used(self) -> float:
        """Fraction of the tolerance used (0 = identical; inf for NaN mismatches)."""
        if self.obtained == self.reference:
            return 0.0
        diff = abs(self.obtained - self.reference)
        if not math.isfinite(diff):
            return math.inf
        return diff / self.allowed if self.allowed > 0 else math.inf

    @property
    def family(self) -> str:
        """The output's name without its index (``bestfit``, ``impact_postfit_up``, ...)."""
        return self.output.split("[", 1)[0]

    def __str__(self) -> str:
        return (
            f"{self.output}: {self.obtained!r} vs reference {self.reference!r} "
            f"(|diff| {abs(self.obtained - self.reference):.3g} > allowed {self.allowed:.3g})"
        )


def _none_to_nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def fit_deviations(obtained: Mapping[str, Any], reference: Mapping[str, Any]) -> list[Deviation]:
    """Every number of two ``fit_results.json`` contents with its allowed difference.

    Parameters are matched by label (a label set that differs is a structural mismatch and
    raises ``ValueError``); tolerances scale with the reference's uncertainties.
    """
    ref_pars, obt_pars = reference["parameters"], obtained["parameters"]
    labels = list(ref_pars["labels"])
    if list(obt_pars["labels"]) != labels:
        raise ValueError(
            f"parameters differ: {obt_pars['labels']} vs reference {labels} (not a tolerance matter)"
        )
    sigma = [float(s) for s in ref_pars["uncertainty"]]
    poi_sigma = float(reference["poi"]["uncertainty"])
    out: list[Deviation] = []
    for i, label in enumerate(labels):
        out.append(
            Deviation(
                f"bestfit[{label}]",
                float(obt_pars["bestfit"][i]),
                float(ref_pars["bestfit"][i]),
                BESTFIT_SIGMA * sigma[i],
            )
        )
        out.append(
            Deviation(
                f"uncertainty[{label}]",
                float(obt_pars["uncertainty"][i]),
                sigma[i],
                UNCERTAINTY_REL * sigma[i],
            )
        )
    for i, row in enumerate(reference["correlation_matrix"]):
        for j in range(i + 1, len(row)):
            out.append(
                Deviation(
                    f"correlation[{labels[i]},{labels[j]}]",
                    float(obtained["correlation_matrix"][i][j]),
                    float(row[j]),
                    CORRELATION_ABS,
                )
            )
    out.append(
        Deviation(
            "best_twice_nll",
            float(obtained["best_twice_nll"]),
            float(reference["best_twice_nll"]),
            TWICE_NLL_ABS,
        )
    )
    out.append(
        Deviation(
            "goodness_of_fit",
            _none_to_nan(obtained.get("goodness_of_fit")),
            _none_to_nan(reference.get("goodness_of_fit")),
            P_VALUE_ABS,
        )
    )
    out += _impact_deviations(obtained.get("impacts"), reference.get("impacts"), poi_sigma)
    return out


def _impact_deviations(
    obtained: Mapping[str, Any] | None, reference: Mapping[str, Any] | None, poi_sigma: float
) -> list[Deviation]:
    if reference is None or obtained is None:
        if (reference is None) != (obtained is None):
            raise ValueError("impacts present on one side only (not a tolerance matter)")
        return []
    if list(obtained["labels"]) != list(reference["labels"]):
        raise ValueError("impact ranking labels differ (not a tolerance matter)")
    out = []
    for kind in ("prefit_up", "prefit_down", "postfit_up", "postfit_down"):
        for label, got, ref in zip(
            reference["labels"], obtained[kind], reference[kind], strict=True
        ):
            allowed = IMPACT_POI_SIGMA * poi_sigma + IMPACT_REL * abs(float(ref))
            out.append(Deviation(f"impact_{kind}[{label}]", float(got), float(ref), allowed))
    return out


def limit_deviations(obtained: Mapping[str, Any], reference: Mapping[str, Any]) -> list[Deviation]:
    """The observed and expected (-2..+2 sigma) limits of two ``limits.json`` contents.

    Allowed: :data:`LIMIT_BAND` times the half-width of the reference's expected 1-sigma band.
    """
    exp = reference["expected"]
    allowed = LIMIT_BAND * (float(exp["1"]) - float(exp["-1"])) / 2
    out = [
        Deviation(
            "limit_observed", float(obtained["observed"]), float(reference["observed"]), allowed
        )
    ]
    for key in ("-2", "-1", "0", "1", "2"):
        out.append(
            Deviation(
                f"limit_expected[{key}]",
                float(obtained["expected"][key]),
                float(exp[key]),
                allowed,
            )
        )
    return out


def violations(deviations: Iterable[Deviation]) -> list[Deviation]:
    """The deviations beyond their tolerance (NaN against a number included)."""
    out = []
    for d in deviations:
        both_nan = math.isnan(d.obtained) and math.isnan(d.reference)
        if not both_nan and d.used > 1.0:
            out.append(d)
    return out


class Spread(NamedTuple):
    """Across environments, per output family: the largest |difference| to the reference and
    the largest fraction of the tolerance used (with the output where it occurs)."""

    family: str
    count: int
    max_abs_diff: float
    max_used: float
    worst: str


def spread(deviation_sets: Iterable[Iterable[Deviation]]) -> list[Spread]:
    """Summarise the deviations of several environments (one iterable each) per family."""
    table: dict[str, Spread] = {}
    for deviations in deviation_sets:
        for d in deviations:
            if math.isnan(d.obtained) and math.isnan(d.reference):
                continue
            diff = abs(d.obtained - d.reference)
            old = table.get(d.family, Spread(d.family, 0, 0.0, 0.0, ""))
            worst = d.output if d.used >= old.max_used else old.worst
            table[d.family] = Spread(
                d.family,
                old.count + 1,
                max(old.max_abs_diff, diff),
                max(old.max_used, d.used),
                worst,
            )
    return sorted(table.values(), key=lambda s: s.family)


def format_spread(rows: Iterable[Spread]) -> str:
    """A plain-text table of :func:`spread` rows."""
    lines = [f"{'output':26s} {'numbers':>7s} {'max |diff|':>11s} {'of tolerance':>12s}  worst"]
    for r in rows:
        lines.append(
            f"{r.family:26s} {r.count:7d} {r.max_abs_diff:11.3g} {r.max_used:12.3g}  {r.worst}"
        )
    return "\n".join(lines)
