"""Recommend page (placeholder until the "Explore what the model learned" issue): what it will show."""

from __future__ import annotations

import streamlit as st

from ui import state

st.title("Recommend")
model = state.active_model()
st.info("This page will show, for the active model: a user's favourite movies beside their top recommendations "
        "with explanations, movies similar to a movie, and recommendations for a brand-new user who rates a few "
        "movies here.")
if model is None:
    st.page_link("pages/train.py", label="Train a model first", icon=":material/arrow_forward:")
else:
    st.caption(f"Active model: {model.label}")
