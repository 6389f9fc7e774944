"""CF Studio: the Streamlit frame. Page config and navigation over pages/."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="CF Studio", page_icon=":material/movie_filter:", layout="wide")

navigation = st.navigation([
    st.Page("pages/data.py", title="Data", icon=":material/table_chart:", default=True),
])
navigation.run()
