"""Streamlit glue shared by the pages: cached loaders and session-state keys. Never imports torch."""
