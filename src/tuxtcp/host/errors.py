"""Errors of the host readers (plain Python: an OSError subclass cannot be a mypyc class)."""

from __future__ import annotations


class SockDiagError(OSError):
    """The sock_diag dump could not be made (no such namespace, no permission)."""
