"""Embeddings page (placeholder until the "Explore what the model learned" issue): what it will show."""

from __future__ import annotations

import streamlit as st

from ui import state

st.title("Embeddings")
model = state.active_model()
st.info("This page will draw a PCA map of the movie embeddings in 2D and 3D, coloured by genre, year or "
        "popularity, with a title search and exports for TensorBoard's Embedding Projector.")
if model is None:
    st.page_link("pages/train.py", label="Train a model first", icon=":material/arrow_forward:")
else:
    st.caption(f"Active model: {model.label}")
