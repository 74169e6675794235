"""Histograms of both regions with relaxed (or hard) event weights -> the model's templates.

An event's weight in a region is ``norm * P(region)`` (:func:`agc.optimise.relax.region_probabilities`)
times its weight variation; ``P`` carries the gradient with respect to the threshold. Which model
bin the event fills (its H_T / m_bjj) and its b-tag weight variations come from the hard
selection at the current threshold (:func:`agc.optimise.events.hard_view`): piecewise constant in
the threshold, their gradient is neglected. With ``temperature=None`` the probabilities are the
hard cut's 0/1 (the scan).

Systematics built from the events: the jet energy scale (pT * 1.03) and resolution (JER factors),
each with the selection redone and symmetrised; the four b-tag weight variations; the W+jets scale
weight variation; the ttbar alternative samples present (ME_var, PS_var symmetrised;
scaleup/scaledown); the luminosity (+/- 3 %). Every sample and systematic of inputs/cabinetry.yaml.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from agc.core import physics
from agc.optimise.events import (
    N_MODEL_BINS,
    PT_VARIATIONS,
    REGIONS,
    HardView,
    SampleEvents,
    SampleLabel,
    hard_masks,
    hard_view,
)
from agc.optimise.merit import ModelInputs
from agc.optimise.relax import padded, region_probabilities, sigmoid_weight

jax.config.update("jax_enable_x64", True)

#: The model's samples, the POI's first.
PROCESS_ORDER: tuple[str, ...] = (
    "ttbar",
    "wjets",
    "single_top_s_chan",
    "single_top_t_chan",
    "single_top_tW",
)
#: Far below any threshold: the relaxed variable of padding jets.
_FAR_BELOW = -1.0e9


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["x", "fixed_pass", "fixed_tag"],
    meta_fields=["relax_tag"],
)
@dataclass(frozen=True)
class JetInputs:
    """The per-jet inputs of the relaxed selection of one sample and jet-pT variation that do
    not depend on the threshold, padded to (n_events, max_jets) (:func:`agc.optimise.relax.padded`).

    ``x``: the relaxed variable (the jet's pT [GeV] or b-tag discriminant); ``fixed_pass``:
    1/0, the selection cuts that are not relaxed; ``fixed_tag``: 1/0, the b-tag cut when it is
    not the relaxed one (else 1); ``relax_tag``: whether the threshold is the b-tag's.
    """

    x: np.ndarray
    fixed_pass: np.ndarray
    fixed_tag: np.ndarray
    relax_tag: bool


def jet_inputs(events: SampleEvents, variation: str, name: str) -> JetInputs:
    """:class:`JetInputs` of ``events`` for jet-pT ``variation`` and threshold ``name``."""
    pt = events.jet_pt(variation)
    counts = events.jets.counts
    relax_tag = name == "btag"
    if relax_tag:
        passing, _ = hard_masks(events, pt, name, 0.0)  # the pT cut is the card's
        x = np.asarray(events.jets.btagCSVV2, dtype=np.float64)
        tag = np.ones(len(pt))
    else:
        passing = events.other
        x = pt
        tag = np.asarray(events.jets.btagCSVV2) > physics.BTAG_CSVV2_MIN
    return JetInputs(
        padded(counts, x, _FAR_BELOW),
        padded(counts, passing.astype(np.float64)),
        padded(counts, tag.astype(np.float64)),
        relax_tag,
    )


def probabilities(inputs: JetInputs, cut: jax.Array, temperature: float | None) -> jax.Array:
    """P(4j1b), P(4j2b) per event, (n_events, 2): relaxed with ``temperature`` (> 0, unit of the
    cut), hard (0/1, ``x > cut``) with ``None``."""
    x = jnp.asarray(inputs.x)
    if temperature is None:
        weight = (x > cut).astype(jnp.float64)
    else:
        weight = sigmoid_weight(x, cut, temperature)
    p_pass, p_tag = jnp.asarray(inputs.fixed_pass), jnp.asarray(inputs.fixed_tag)
    if inputs.relax_tag:
        p_tag = p_tag * weight
    else:
        p_pass = p_pass * weight
    return region_probabilities(p_pass, p_tag)


def histogram(probs: jax.Array, bins: jax.Array, weight: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(sum of weights, sum of squared weights), each (regions, model bins), of the events with
    region probabilities ``probs`` (n_events, 2), model ``bins`` (2, n_events; -1 = none) and
    event ``weight`` (scalar or n_events)."""
    factors = jnp.broadcast_to(jnp.asarray(weight, dtype=jnp.float64), probs.shape[:1])[None]
    sums, sumw2 = histograms(probs, bins, factors)
    return sums[0], sumw2


def histograms(
    probs: jax.Array, bins: jax.Array, weights: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Several weightings of the same events at once: (sums (weightings, regions, model bins),
    sum of squared weights of the first weighting (regions, model bins)).

    ``probs``: (n_events, 2) region probabilities; ``bins``: (2, n_events) model bins (-1 =
    none); ``weights``: (weightings, n_events) event weights. One segment sum per region.
    """
    sums, sums2 = [], []
    for r in range(len(REGIONS)):
        w = weights * probs[:, r][None, :]
        data = jnp.concatenate([w, (w[0] * w[0])[None]]).T  # (n_events, weightings + 1)
        index = jnp.where(bins[r] >= 0, bins[r], N_MODEL_BINS)
        total = jax.ops.segment_sum(data, index, N_MODEL_BINS + 1)[:N_MODEL_BINS]
        sums.append(total[:, :-1].T)
        sums2.append(total[:, -1])
    return jnp.stack(sums, axis=1), jnp.stack(sums2)


def _sample_histograms(
    events: SampleLabel,
    inputs: dict[str, JetInputs],
    views: dict[str, HardView],
    cut: jax.Array,
    temperature: float | None,
) -> tuple[dict[str, jax.Array], jax.Array]:
    """{histogram label: sumw (regions, bins)} of one sample and the nominal sumw2."""
    probs = probabilities(inputs["nominal"], cut, temperature)
    view = views["nominal"]
    n_events = probs.shape[0]
    factors: dict[str, jax.Array] = {events.variation: jnp.ones(n_events)}
    if events.variation == "nominal":
        factors.update({k: jnp.asarray(v) for k, v in view.btag_weights.items()})
        if events.process == "wjets":
            factors.update({k: jnp.full(n_events, v) for k, v in physics.WJETS_SCALE_VAR.items()})
    weights = events.norm * jnp.stack(list(factors.values()))
    sums, sumw2 = histograms(probs, view.bins, weights)
    out = dict(zip(factors, sums, strict=True))
    if events.variation == "nominal":
        for variation in PT_VARIATIONS[1:]:
            varied = probabilities(inputs[variation], cut, temperature)
            out[variation] = histogram(varied, views[variation].bins, events.norm)[0]
    return out, sumw2


def _systematics(
    histos: dict[tuple[str, str], jax.Array],
) -> list[tuple[str, dict[str, tuple[jax.Array, jax.Array]]]]:
    """(name, {process: (up, down)}) of every systematic whose templates exist."""
    nominal = {p: histos[(p, "nominal")] for p in PROCESS_ORDER}

    def one_sided(label: str, processes: Sequence[str]) -> dict[str, tuple[jax.Array, jax.Array]]:
        return {p: (histos[(p, label)], 2.0 * nominal[p] - histos[(p, label)]) for p in processes}

    def two_sided(up: str, down: str, processes: Sequence[str]) -> dict:
        return {p: (histos[(p, up)], histos[(p, down)]) for p in processes}

    found = []
    for label in ("ME_var", "PS_var"):
        if ("ttbar", label) in histos:
            found.append((label, one_sided(label, ["ttbar"])))
    if ("ttbar", "scaleup") in histos and ("ttbar", "scaledown") in histos:
        found.append(("ttbar_scale", two_sided("scaleup", "scaledown", ["ttbar"])))
    found.append(("pt_scale", one_sided("pt_scale_up", PROCESS_ORDER)))
    found.append(("pt_res", one_sided("pt_res_up", PROCESS_ORDER)))
    for i in range(physics.N_BTAG_VAR_JETS):
        up, down = f"btag_var_{i}_up", f"btag_var_{i}_down"
        found.append((f"btag_var_{i}", two_sided(up, down, PROCESS_ORDER)))
    found.append(("wjets_scale", two_sided(*physics.WJETS_SCALE_VAR, ["wjets"])))
    lumi = physics.LUMI_UNCERTAINTY
    found.append(
        ("lumi", {p: ((1 + lumi) * nominal[p], (1 - lumi) * nominal[p]) for p in PROCESS_ORDER})
    )
    return found


def model_inputs(
    samples: Sequence[SampleLabel],
    inputs: Sequence[dict[str, JetInputs]],
    views: Sequence[dict[str, HardView]],
    cut: jax.Array,
    temperature: float | None,
) -> ModelInputs:
    """The model's templates at threshold ``cut`` (:class:`agc.optimise.merit.ModelInputs`).

    ``inputs``/``views``: per sample, {jet-pT variation: :class:`JetInputs` / :class:`HardView`}
    (:func:`sample_inputs`, :func:`sample_views`)."""
    histos: dict[tuple[str, str], jax.Array] = {}
    sumw2: dict[str, jax.Array] = {}
    for events, jets, view in zip(samples, inputs, views, strict=True):
        out, w2 = _sample_histograms(events, jets, view, cut, temperature)
        histos.update({(events.process, label): h for label, h in out.items()})
        if events.variation == "nominal":
            sumw2[events.process] = w2
    systematics = _systematics(histos)
    nominal = jnp.stack([histos[(p, "nominal")] for p in PROCESS_ORDER])

    def stacked(side: int) -> jax.Array:
        return jnp.stack(
            [
                jnp.stack(
                    [
                        effect.get(p, (nominal[i], nominal[i]))[side]
                        for i, p in enumerate(PROCESS_ORDER)
                    ]
                )
                for _, effect in systematics
            ]
        )

    return ModelInputs(
        samples=PROCESS_ORDER,
        systematics=tuple(name for name, _ in systematics),
        nominal=nominal,
        sumw2=jnp.stack([sumw2[p] for p in PROCESS_ORDER]),
        up=stacked(0),
        down=stacked(1),
    )


def sample_inputs(events: SampleEvents, name: str) -> dict[str, JetInputs]:
    """{jet-pT variation: :class:`JetInputs`} of one sample (the variations only for nominal)."""
    variations = PT_VARIATIONS if events.variation == "nominal" else PT_VARIATIONS[:1]
    return {v: jet_inputs(events, v, name) for v in variations}


def sample_views(events: SampleEvents, name: str, cut: float) -> dict[str, HardView]:
    """{jet-pT variation: :class:`HardView`} of one sample at ``cut``."""
    variations = PT_VARIATIONS if events.variation == "nominal" else PT_VARIATIONS[:1]
    return {v: hard_view(events, v, name, cut) for v in variations}
