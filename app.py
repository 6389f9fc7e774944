"""CF Studio: the Streamlit frame. Page config, navigation over views/, and the shared sidebar."""

from __future__ import annotations

from ui.cores import leave_a_core_for_the_page

leave_a_core_for_the_page()  # before anything imports cfcore (and so numba)

import streamlit as st  # noqa: E402

from ui import state  # noqa: E402
from ui.sidebar import sidebar_status  # noqa: E402

st.set_page_config(page_title="CF Studio", page_icon=":material/movie_filter:", layout="wide")

HOME = st.Page("views/home.py", title="Home", icon=":material/home:", default=True)
TRAIN = st.Page("views/train.py", title="Train", icon=":material/model_training:")
navigation = st.navigation([
    HOME,
    st.Page("views/data.py", title="Data", icon=":material/table_chart:"),
    TRAIN,
    st.Page("views/runs.py", title="Runs", icon=":material/history:"),
    st.Page("views/recommend.py", title="Recommend", icon=":material/recommend:"),
    st.Page("views/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
])
state.prepare_launcher()
state.restore_from_url()  # a reload, a restart or a shared link reopens the same data, run and job
navigation.run()
# after the page: it shows what the page changed; the Train page, and the Home page while its demo trains,
# draw the job's progress themselves
sidebar_status(page_shows_job=navigation.url_path == TRAIN.url_path
               or (navigation.url_path == HOME.url_path and bool(st.session_state.get(state.DEMO))))
state.sync_url()
