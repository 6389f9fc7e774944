"""CF Studio: the Streamlit frame. Page config, navigation over pages/, and the shared sidebar."""

from __future__ import annotations

import streamlit as st

from ui import state
from ui.sidebar import sidebar_status

st.set_page_config(page_title="CF Studio", page_icon=":material/movie_filter:", layout="wide")

navigation = st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/table_chart:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
    st.Page("pages/recommend.py", title="Recommend", icon=":material/recommend:"),
    st.Page("pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
])
state.restore_from_url()  # a reload, a restart or a shared link reopens the same data, run and job
navigation.run()
sidebar_status()  # after the page, so it shows what the page just changed
state.sync_url()
