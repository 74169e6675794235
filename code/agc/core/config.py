"""The run configuration: the workflow parameters as typed, frozen objects, validated once.

:class:`ProcessingConfig` holds how events are processed (coffea's ``Runner`` settings and the
two switches of the event loop); :class:`RunConfig` holds every workflow parameter, with the
processing settings as one :class:`ProcessingConfig`. Both are built once where the parameters
enter (a stage function, the CLI, a notebook, a test) -- from strings too
(:meth:`ProcessingConfig.from_parameters`, :meth:`RunConfig.from_parameters`) -- and are checked
against ``schemas/parameters.schema.json`` on creation (:func:`agc.core.parameters.validate_parameters`,
which also turns ``"2"`` into ``2`` and ``"true"`` into ``True``). Everything below takes the
object and checks nothing again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agc.core.errors import AGCError
from agc.core.parameters import WORKFLOW_PARAMETERS, default, validate_parameters


def _validated(instance: Any, names: tuple[str, ...]) -> None:
    """Validate the fields ``names`` of the frozen ``instance`` and store their typed values."""
    typed = validate_parameters({name: getattr(instance, name) for name in names})
    for name in names:
        object.__setattr__(instance, name, typed[name])


@dataclass(frozen=True)
class ProcessingConfig:
    """How the event processing runs (the workflow parameters of the same names).

    ``executor``: ``iterative`` | ``futures`` (``workers`` processes) | ``dask`` (a
    ``LocalCluster`` of ``workers`` single-threaded processes, or the ``scheduler`` address);
    ``chunksize``: events per chunk; ``max_files``: files per sample (-1 = all);
    ``skip_bad_files``: skip (and list) bad input files instead of stopping at the first one;
    ``use_inference``: also score the jet-parton assignments of every 4j2b event with the BDTs
    (:data:`agc.core.physics.ML_MODEL_DIR`) and write ``histograms_ml.root``; ``checkpoints``:
    keep per-chunk checkpoints so that a killed run resumes (not a workflow parameter).

    The defaults are the schema's, except ``use_inference``: False here, so that a library
    call runs the analysis without the ML extension unless asked (the stage functions pass the
    workflow parameter, whose default is true).
    """

    executor: str = default("executor")
    workers: int = default("workers")
    chunksize: int = default("chunksize")
    max_files: int = default("max_files")
    scheduler: str = default("scheduler")
    skip_bad_files: bool = default("skip_bad_files")
    use_inference: bool = False
    checkpoints: bool = True

    #: The fields that are workflow parameters (validated against the schema).
    PARAMETERS = (
        "executor",
        "workers",
        "chunksize",
        "max_files",
        "scheduler",
        "skip_bad_files",
        "use_inference",
    )

    def __post_init__(self) -> None:
        _validated(self, self.PARAMETERS)
        if not isinstance(self.checkpoints, bool):
            raise AGCError(f"checkpoints must be true or false, got {self.checkpoints!r}")

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> ProcessingConfig:
        """The processing settings among ``parameters`` (other names are ignored; strings are
        coerced); a missing one takes the default."""
        return cls(**{name: parameters[name] for name in cls.PARAMETERS if name in parameters})

    def replace(self, **changes: Any) -> ProcessingConfig:
        """A copy with ``changes`` (validated like a new object)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class RunConfig:
    """Every workflow parameter of one run, typed; the processing ones as ``processing``.

    ``inputs``: ``"embedded"`` or a manifest path; ``samples``: ``"all"`` or a comma list;
    ``outdir``: the run's output folder (relative, inside the workspace); ``signal``: ``"ttbar"``
    or a signal declaration; ``poi``: the parameter of interest; ``format``: the file format of
    the generated embedded dataset. Defaults: the schema's (``processing.use_inference`` too).
    """

    inputs: str = default("inputs")
    samples: str = default("samples")
    outdir: str = default("outdir")
    signal: str = default("signal")
    poi: str = default("poi")
    format: str = default("format")
    processing: ProcessingConfig = field(
        default_factory=lambda: ProcessingConfig(use_inference=default("use_inference"))
    )

    #: The fields that are workflow parameters, besides those of :class:`ProcessingConfig`.
    PARAMETERS = ("inputs", "samples", "outdir", "signal", "poi", "format")

    def __post_init__(self) -> None:
        _validated(self, self.PARAMETERS)
        if not isinstance(self.processing, ProcessingConfig):
            raise AGCError(f"processing must be a ProcessingConfig, got {self.processing!r}")

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> RunConfig:
        """The run configuration of the workflow parameters ``parameters`` (strings are coerced;
        a missing one takes the schema's default; an unknown name is an error)."""
        unknown = sorted(set(parameters) - set(WORKFLOW_PARAMETERS))
        if unknown:
            raise AGCError(
                f"unknown parameter '{unknown[0]}'; known: {', '.join(sorted(WORKFLOW_PARAMETERS))}"
            )
        processing = {"use_inference": default("use_inference"), **parameters}
        return cls(
            **{name: parameters[name] for name in cls.PARAMETERS if name in parameters},
            processing=ProcessingConfig.from_parameters(processing),
        )
