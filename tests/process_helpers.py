"""Child processes started as from an interactive terminal, for the tests that interrupt them."""

from __future__ import annotations

import signal


def terminal_signals() -> None:
    """``preexec_fn`` of a child that a test interrupts with SIGINT (Ctrl-C) or SIGQUIT: both at
    their default action, as in a shell's foreground job. A shell starts a background job
    (``make test &``, a CI step run with ``nohup``) with them ignored, and a child inherits
    ignored signals: its Python would then never raise KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
