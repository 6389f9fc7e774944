"""CF Studio: the Streamlit frame. Page config, navigation over views/, and the shared sidebar."""

from __future__ import annotations

from ui.cores import leave_a_core_for_the_page

leave_a_core_for_the_page()  # before anything imports cfcore (and so numba)

import streamlit as st  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from cfcore.figures.style import ACCENT  # noqa: E402
from ui import state  # noqa: E402
from ui.sidebar import sidebar_status  # noqa: E402


def favicon() -> Image.Image:
    """A film frame in the accent colour, drawn here: a ":material/...:" page icon makes the browser fetch the
    icon from fonts.gstatic.com, and nothing may be downloaded at run time."""
    icon = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((4, 10, 60, 54), radius=8, fill=ACCENT)
    for x in (10, 22, 34, 46):  # the perforations
        draw.rectangle((x, 14, x + 7, 19), fill="white")
        draw.rectangle((x, 45, x + 7, 50), fill="white")
    return icon


st.set_page_config(page_title="CF Studio", page_icon=favicon(), layout="wide")

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
