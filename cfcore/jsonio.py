"""Strict JSON for everything CF Studio writes: an undefined number is null, never a bare NaN.

Python's json writes NaN and Infinity, which JSON does not have, so other readers (jq, JavaScript,
pandas with a strict parser) refuse the file. A ranking metric with no relevant rating to find is
undefined (NaN in memory) and is written as null; numpy scalars become plain numbers.
"""

from __future__ import annotations

import json
import math
from typing import Any


def plain(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, numpy scalars and arrays made plain,
    tuples made lists, at any depth."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalar or array
        return plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any, **kwargs) -> str:
    """JSON text of ``value`` (see ``plain``); refuses anything it cannot write as strict JSON."""
    return json.dumps(plain(value), allow_nan=False, **kwargs)
