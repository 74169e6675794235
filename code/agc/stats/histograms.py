"""The analysis' histograms as the statistics read them, without cabinetry: one 1D histogram of a
ROOT file as a boost-histogram (:class:`HistogramReader`), merged onto the model's bins
(:func:`rebin`), and what the pseudo-data implies for the ttbar normalisation from the histograms
alone (:func:`expected_ttbar_norm`, which the report shows beside the fit).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import boost_histogram as bh
import numpy as np
import uproot

from agc.core import physics
from agc.core.errors import AGCError

__all__ = ["HistogramReader", "expected_ttbar_norm", "rebin"]


def rebin(
    histogram: bh.Histogram, edges: list[float] | tuple[float, ...], name: str
) -> bh.Histogram:
    """Merge the bins of a 1D weighted histogram onto ``edges`` (a subset of its bin edges).

    Contents outside ``[edges[0], edges[-1]]`` (including under/overflow) are dropped.
    Returns a boost-histogram with a Variable axis and Weight storage (sumw, sumw2).
    """
    wanted = np.asarray(edges, dtype=float)
    close = np.abs(histogram.axes[0].edges[np.newaxis, :] - wanted[:, np.newaxis]) <= 1e-6
    alone = np.count_nonzero(close, axis=1) == 1
    if not np.all(alone):
        edge = edges[int(np.argmin(alone))]
        raise AGCError(f"{name}: model bin edge {edge} is not a bin edge of the histogram")
    index = np.argmax(close, axis=1).tolist()
    if any(b <= a for a, b in itertools.pairwise(index)):
        raise AGCError(f"{name}: model bin edges must increase, got {list(edges)}")
    view = histogram.view()
    if view.dtype.names is not None and "variance" in view.dtype.names:
        values, variances = np.asarray(view["value"]), np.asarray(view["variance"])
    else:
        values = np.asarray(histogram.values())
        variances = np.asarray(
            histogram.variances() if histogram.variances() is not None else values
        )
    starts = np.asarray(index[:-1])
    merged = bh.Histogram(bh.axis.Variable(list(map(float, edges))), storage=bh.storage.Weight())
    merged.view()["value"] = np.add.reduceat(values[index[0] : index[-1]], starts - index[0])
    merged.view()["variance"] = np.add.reduceat(variances[index[0] : index[-1]], starts - index[0])
    return merged


class HistogramReader:
    """Read-only access to 1D histograms in ROOT files (opened and listed once each), AGCError on
    bad input.

    ``get(file_path, key, what)`` returns the histogram as a boost-histogram (Weight storage);
    ``what`` describes the request in error messages. Call ``close()`` when done.
    """

    def __init__(self) -> None:
        self._files: dict[str, Any] = {}
        self._keys: dict[str, frozenset[str]] = {}

    def get(self, file_path: str, key: str, what: str) -> bh.Histogram:
        handle = self._files.get(file_path)
        if handle is None:
            if not Path(file_path).is_file():
                raise AGCError(f"{file_path}: histograms file not found")
            try:
                handle = uproot.open(file_path)
            except (OSError, ValueError, uproot.deserialization.DeserializationError) as exc:
                raise AGCError(
                    f"{file_path}: cannot open as ROOT file ({type(exc).__name__}: {exc})"
                ) from None
            self._files[file_path] = handle
            self._keys[file_path] = frozenset(handle.keys(cycle=False))
        if key not in self._keys[file_path]:
            raise AGCError(f"{file_path}: missing histogram '{key}' ({what})")
        obj = handle[key]
        if not obj.classname.startswith("TH1"):
            raise AGCError(f"{file_path}: '{key}' is a {obj.classname}, expected a TH1 ({what})")
        return obj.to_boost()

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()
        self._keys.clear()


def expected_ttbar_norm(
    histograms: str | os.PathLike[str],
    *,
    signal: str = "ttbar",
    backgrounds: tuple[str, ...] = (
        "wjets",
        "single_top_s_chan",
        "single_top_t_chan",
        "single_top_tW",
    ),
    regions: tuple[str, ...] = tuple(physics.REGIONS),
    edges: tuple[float, ...] = physics.MODEL_BIN_EDGES,
) -> tuple[float, float]:
    """What the pseudo-data implies for the signal normalisation, from the histograms alone.

    mu = (D - B) / S summed over ``regions`` and the model bins (``edges``, GeV), with D the
    pseudo-data, B the nominal non-signal backgrounds and S the nominal signal. The
    uncertainty propagates the MC statistical variances (sumw2) of D, B and S as independent.

    Returns:
        (mu, sigma_mu).
    """
    path = os.fspath(histograms)
    source = HistogramReader()
    try:

        def total(name: str) -> tuple[float, float]:
            h = rebin(source.get(path, name, "expected_ttbar_norm"), list(edges), f"{path}:{name}")
            return float(np.sum(h.values())), float(np.sum(h.variances()))

        d = b = s = 0.0
        var_d = var_b = var_s = 0.0
        for region in regions:
            value, var = total(f"{region}_pseudodata")
            d, var_d = d + value, var_d + var
            value, var = total(f"{region}_{signal}")
            s, var_s = s + value, var_s + var
            for process in backgrounds:
                value, var = total(f"{region}_{process}")
                b, var_b = b + value, var_b + var
    finally:
        source.close()
    if s <= 0:
        raise AGCError(f"{path}: nominal '{signal}' histograms are empty in {list(regions)}")
    mu = (d - b) / s
    sigma = float(np.sqrt((var_d + var_b) / s**2 + (d - b) ** 2 * var_s / s**4))
    return float(mu), sigma
