"""Small pieces of the benchmark's printed English."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: "1 job", "2 jobs"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
