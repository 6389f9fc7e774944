"""CF Studio: the Streamlit frame. Page config, navigation over views/, and the shared sidebar."""

from __future__ import annotations

import os
import sys

# Leave one core to the server and the browser: the compiled training step's threads meet after every
# phase of every step, so a thread sharing its core with a page redraw holds up all of them, and on 2
# cores 2 threads trained slower in the dashboard than 1 (bench/dashboard_speed.py). Read by numba on
# import, so it is set before anything imports cfcore; an explicit NUMBA_NUM_THREADS wins, and a
# process that already loaded numba (a test run) keeps its count: numba refuses a change after launch.
if "numba" not in sys.modules:
    os.environ.setdefault("NUMBA_NUM_THREADS", str(max(1, (os.cpu_count() or 1) - 1)))

import streamlit as st  # noqa: E402

from ui import state  # noqa: E402
from ui.sidebar import sidebar_status  # noqa: E402

st.set_page_config(page_title="CF Studio", page_icon=":material/movie_filter:", layout="wide")

navigation = st.navigation([
    st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("views/data.py", title="Data", icon=":material/table_chart:"),
    st.Page("views/train.py", title="Train", icon=":material/model_training:"),
    st.Page("views/runs.py", title="Runs", icon=":material/history:"),
    st.Page("views/recommend.py", title="Recommend", icon=":material/recommend:"),
    st.Page("views/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
])
state.restore_from_url()  # a reload, a restart or a shared link reopens the same data, run and job
navigation.run()
sidebar_status()  # after the page, so it shows what the page just changed
state.sync_url()
