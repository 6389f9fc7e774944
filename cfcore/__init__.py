"""CF Studio's engine: explicit-rating collaborative filtering with biased matrix factorisation.

Never imports Streamlit and never prints; the CLI (``python -m cfcore``) and the dashboard sit on top.
"""

from __future__ import annotations

__version__ = "0.1.0"
