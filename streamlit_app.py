"""Speech emotion recognition studio: ``streamlit run streamlit_app.py``.

This file only declares the pages; each page lays out widgets and calls ``ser``.
"""

import streamlit as st

from ui.resources import loading_notice, model_loader
from ui.stream import note_page_shown

st.set_page_config(page_title="Speech Emotion Studio", page_icon="🎙️", layout="wide")
model_loader()  # the first visit starts loading the models in the background; every page draws at once

pages = [
    st.Page("app_pages/live.py", title="Live", icon="🎙️", default=True),
    st.Page("app_pages/upload.py", title="Upload", icon="📁"),
    st.Page("app_pages/compare.py", title="Compare models", icon="📊"),
    st.Page("app_pages/dataset.py", title="Dataset", icon="🗂️"),
    st.Page("app_pages/about.py", title="About", icon="ℹ️"),
]
page = st.navigation(pages)
note_page_shown(page.url_path)
st.sidebar.markdown("### 🎙️ Speech Emotion Studio")
st.sidebar.caption("What do the models hear in a voice?")
loading_notice()
page.run()
