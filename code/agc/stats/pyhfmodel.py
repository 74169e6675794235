"""The pyhf model and data of a workspace, its specification checked once.

A specification is checked against pyhf's workspace schema when a :class:`pyhf.Workspace` is
made of it (:func:`checked_workspace`); the workspace object then carries that check with it,
also to the processes it is handed to (pickled, it is not checked again), and building its
model (:func:`model_and_data`) checks nothing twice. The checks cost about 0.15 s each for the
ML workspace's 190 parameters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import pyhf

from agc.core.errors import AGCError

__all__ = ["MODIFIER_SETTINGS", "checked_workspace", "model_and_data"]

#: HistFactory's interpolation codes 4 (normsys) and 4p (histosys), as cabinetry's
#: ``model_utils.model_and_data`` builds its models.
MODIFIER_SETTINGS: dict[str, dict[str, str]] = {
    "normsys": {"interpcode": "code4"},
    "histosys": {"interpcode": "code4p"},
}


def checked_workspace(spec: Mapping[str, Any]) -> pyhf.Workspace:
    """``spec`` as a :class:`pyhf.Workspace`: checked against pyhf's schema unless it is one
    already; :class:`AGCError` (the place in the specification) if it is not valid."""
    if isinstance(spec, pyhf.Workspace):
        return spec
    with _pyhf_errors():
        return pyhf.Workspace(dict(spec))


def model_and_data(spec: Mapping[str, Any]) -> tuple[Any, list[float]]:
    """pyhf model (:data:`MODIFIER_SETTINGS`) and data incl. auxdata of the workspace ``spec``
    (:func:`checked_workspace`; the model's part of the schema is the workspace's, so it is
    not checked again); :class:`AGCError` if it is not a valid pyhf workspace."""
    workspace = checked_workspace(spec)
    with _pyhf_errors():
        model = workspace.model(modifier_settings=MODIFIER_SETTINGS, validate=False)
        return model, workspace.data(model, include_auxdata=True)


@contextlib.contextmanager
def _pyhf_errors() -> Iterator[None]:
    """pyhf's errors about a workspace as one :class:`AGCError` line."""
    try:
        yield
    except pyhf.exceptions.InvalidSpecification as exc:
        where = exc.path or "<top level>"
        raise AGCError(f"invalid pyhf workspace at '{where}': {exc.parent.message}") from None
    except (KeyError, IndexError, ValueError, pyhf.exceptions.InvalidModel) as exc:
        raise AGCError(f"cannot build the pyhf model ({type(exc).__name__}: {exc})") from None
