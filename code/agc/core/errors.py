"""One exception type for every user-facing failure.

The CLI turns an :class:`AGCError` into a single line on stderr and exit code 2, so a
user sees *what* is wrong and *which* file, branch, key or sample is the culprit,
never a traceback.
"""

from __future__ import annotations


class AGCError(Exception):
    """A user-facing error: the message must name the culprit (file, key, sample, ...)."""
