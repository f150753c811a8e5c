"""A socket-module-like API over a namespace."""

from .api import Socket

__all__ = ["Socket"]
