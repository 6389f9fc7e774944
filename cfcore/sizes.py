"""Byte counts as people read them, and whether a need fits in what is free (no torch, for any module)."""

from __future__ import annotations

HEADROOM = 0.8  # a run plans on at most this share of the free memory (the rest: Python, the page, the OS)


def fits(need: int, available: int | None) -> bool:
    """Whether ``need`` bytes fit in ``available`` (unknown: assume they do) with the headroom kept."""
    return available is None or need < HEADROOM * available


def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
