"""Ranking model kinds, one module each (``base.py`` is their contract, ``registry.py`` finds them)."""
