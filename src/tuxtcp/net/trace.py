"""Tracepoint hub (placeholder until the formats land)."""

from __future__ import annotations


class Tracer:
    def __init__(self) -> None:
        self.enabled = False
