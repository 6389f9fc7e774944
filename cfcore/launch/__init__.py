"""Where a run executes: one protocol (``base.py``), one module per place, and the table that chooses (``registry.py``)."""
