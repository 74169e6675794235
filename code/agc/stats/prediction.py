"""Model predictions for the figures and tables: cabinetry's numbers, without its big product.

:func:`prediction` returns what ``cabinetry.model_utils.prediction`` returns, the same
:class:`cabinetry.model_utils.ModelPrediction` bit for bit (yields per channel, sample and bin,
and their uncertainty with every parameter's correlations). :func:`yield_stdev` is cabinetry's
``yield_stdev`` computed in the same floating-point order:

- the yields with each parameter moved up and down by its uncertainty, one model evaluation
  each, and their symmetrised difference ``v_i`` per sample (+ total) and bin (+ channel sum);
- the variance ``sum_i sum_j v_i * (M_ij * v_j)``, summed over ``j`` first, then over ``i``,
  both in index order.

cabinetry forms the product as one ``(n, n, samples + 1, bins + channels)`` array; for the ML
model (n = 187) that is 38 M entries, 0.6 GB of temporaries and up to 2 s. Here it is formed
one row ``i`` at a time in a reused ``(n, samples + 1, bins + channels)`` buffer: 0.05 s.
"""

from __future__ import annotations

from typing import Any

import cabinetry
import numpy as np
import pyhf

#: Stacked yields ``(samples + 1, bins + channels)``: per sample and their total (last row),
#: per bin and then per channel (the channel sums), as cabinetry orders them.
Stacked = np.ndarray


def prediction(model: Any, *, fit_results: Any = None, label: str | None = None) -> Any:
    """``cabinetry.model_utils.prediction(model, fit_results=..., label=...)``: the pre-fit
    prediction (Asimov parameters, pre-fit uncertainties, no correlations) without
    ``fit_results`` (a :class:`cabinetry.fit.FitResults`), else the post-fit one. Yields are
    expected events per bin; the uncertainties are standard deviations of the same."""
    if fit_results is not None:
        values = fit_results.bestfit
        uncertainty = fit_results.uncertainty
        corr_mat = fit_results.corr_mat
        label = "post-fit" if label is None else label
    else:
        values = cabinetry.model_utils.asimov_parameters(model)
        uncertainty = cabinetry.model_utils.prefit_uncertainties(model)
        corr_mat = np.zeros(shape=(len(values), len(values)))
        np.fill_diagonal(corr_mat, 1.0)
        label = "pre-fit" if label is None else label
    combined = pyhf.tensorlib.to_numpy(
        model.main_model.expected_data(values, return_by_sample=True)
    )
    yields = [combined[:, model.config.channel_slices[ch]].tolist() for ch in model.config.channels]
    per_bin, per_channel = yield_stdev(model, values, uncertainty, corr_mat)
    return cabinetry.model_utils.ModelPrediction(model, yields, per_bin, per_channel, label)


def yield_stdev(
    model: Any, parameters: np.ndarray, uncertainty: np.ndarray, corr_mat: np.ndarray
) -> tuple[list[list[list[float]]], list[list[float]]]:
    """cabinetry's ``yield_stdev``: the standard deviation of every sample's yield (and of
    their total, the last sample) per channel and bin ``[channel][sample][bin]``, and per
    channel summed over its bins ``[channel][sample]``, for ``parameters`` (n,) with
    ``uncertainty`` (n,) and correlation matrix ``corr_mat`` (n, n)."""
    up = np.asarray(
        [_stacked(model, _moved(parameters, i, uncertainty[i])) for i in range(len(parameters))]
    )
    down = np.asarray(
        [_stacked(model, _moved(parameters, i, -uncertainty[i])) for i in range(len(parameters))]
    )
    symmetric = (up - down) / 2
    if np.count_nonzero(corr_mat - np.diagflat(np.ones_like(parameters))) == 0:
        variance = np.sum(np.power(symmetric, 2), axis=0)
    else:
        variance = correlated_variance(symmetric, corr_mat)
    n_bins = sum(model.config.channel_nbins.values())
    per_bin = [
        np.sqrt(variance[:, :n_bins][:, model.config.channel_slices[ch]]).tolist()
        for ch in model.config.channels
    ]
    per_channel = np.sqrt(variance[:, n_bins:].T).tolist()
    return per_bin, per_channel


def correlated_variance(symmetric: np.ndarray, corr_mat: np.ndarray) -> np.ndarray:
    """``sum_i sum_j v_i * (M_ij * v_j)`` for ``symmetric`` ``v`` (n, ...) and ``corr_mat``
    ``M`` (n, n), elementwise in the trailing axes: shape ``v.shape[1:]``. Summed over ``j``,
    then over ``i``, in index order: cabinetry's sums of its ``(n, n, ...)`` product."""
    column = (len(corr_mat), *(1,) * (symmetric.ndim - 1))
    product = np.empty_like(symmetric)
    rows = np.empty_like(symmetric)
    for i, row in enumerate(rows):
        np.multiply(corr_mat[i].reshape(column), symmetric, out=product)  # M_ij * v_j
        product *= symmetric[i]
        np.sum(product, axis=0, out=row)
    return np.sum(rows, axis=0)


def _moved(parameters: np.ndarray, index: int, step: float) -> np.ndarray:
    moved = parameters.copy().astype(float)
    moved[index] += step
    return moved


def _stacked(model: Any, parameters: np.ndarray) -> Stacked:
    """The yields per sample at ``parameters`` with their total as a last sample, per bin with
    each channel's sum after the bins (:data:`Stacked`)."""
    by_sample = pyhf.tensorlib.to_numpy(
        model.main_model.expected_data(parameters, return_by_sample=True)
    )
    combined = np.vstack((by_sample, np.sum(by_sample, axis=0)))
    sums = np.stack(
        [
            np.sum(combined[:, model.config.channel_slices[ch]], axis=-1, keepdims=True)
            for ch in model.config.channels
        ]
    )
    return np.concatenate((combined, sums.reshape(sums.shape[:-1]).T), axis=1)
