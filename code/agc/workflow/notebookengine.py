"""The papermill engine the workflows run their notebooks with (``papermill --engine agc-nbclient``).

It is papermill's nbclient engine with one setting changed: once the last cell has run, the
kernel is stopped at once (nbclient's ``shutdown_kernel="immediate"``) instead of being asked to
shut down and waited for, which costs about 0.4 s a notebook (the kernel's own delay, its
interpreter's teardown and the client's polling). Nothing is lost: a stage writes its outputs
atomically before its cell returns, and nbclient has received every output of a cell before it
runs the next. Registered as the ``papermill.engine`` entry point ``agc-nbclient`` (pyproject.toml), so
it exists wherever the package is installed (``.venv``, the image).
"""

from __future__ import annotations

from typing import Any

from papermill.engines import NBClientEngine

__all__ = ["SHUTDOWN", "AGCEngine"]

#: nbclient's ``shutdown_kernel`` setting of :class:`AGCEngine`.
SHUTDOWN = "immediate"


class AGCEngine(NBClientEngine):
    """papermill's nbclient engine, stopping the kernel at once after the last cell."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
        """Run the notebook as :class:`papermill.engines.NBClientEngine` does, with
        ``shutdown_kernel`` set to :data:`SHUTDOWN` unless the caller sets it."""
        kwargs.setdefault("shutdown_kernel", SHUTDOWN)
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
