"""The sidebar every page shares: the active dataset, the active model and any running job."""

from __future__ import annotations

import streamlit as st

from ui import state


def sidebar_status() -> None:
    with st.sidebar:
        data = state.dataset()
        st.markdown("**Dataset**")
        st.caption(f"{data.name} · {len(data.ratings):,} ratings · {data.ratings.n_users:,} users · "
                   f"{data.ratings.n_items:,} items")
        st.markdown("**Model**")
        model = state.active_model()
        st.caption(model.label if model else "none yet: train one on the Train page")
        job = st.session_state.get(state.JOB)
        if job is not None and job.running:
            done, text = job.progress()
            st.caption(f"training: {text}")
        if data.credit:
            st.caption("Data: MovieLens by GroupLens Research")
