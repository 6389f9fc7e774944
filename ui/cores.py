"""How many threads the dashboard's training uses: all cores but one, decided before numba loads.

The compiled training step's threads meet after every phase of every step, so a thread sharing its core
with a page redraw holds up all of them: on 2 cores, 2 threads trained slower in the dashboard than 1
(bench/dashboard_speed.py). Nothing here imports numba, torch or cfcore.
"""

from __future__ import annotations

import os
import sys


def dashboard_threads() -> int:
    """All cores but one (at least one): the one left over serves the server and the browser."""
    return max(1, (os.cpu_count() or 1) - 1)


def leave_a_core_for_the_page() -> None:
    """Set NUMBA_NUM_THREADS (read by numba on import) to ``dashboard_threads()``. An explicit value wins,
    and a process that already loaded numba (a test run) keeps its count: numba refuses a change after launch."""
    if "numba" not in sys.modules:
        os.environ.setdefault("NUMBA_NUM_THREADS", str(dashboard_threads()))
