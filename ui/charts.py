"""Showing the library's plotly figures the same way on every page."""

import plotly.graph_objects as go
import streamlit as st

# No toolbar: on a phone it covered the charts' titles, and an audience needs none of its tools.
PLOTLY_CONFIG = {"displayModeBar": False}


def show_figure(fig: go.Figure, key: str | None = None) -> None:
    """A chart as wide as its container, in the figure's own template (``theme=None``:
    Streamlit's theme would replace ``ser.plots``' fonts and colours)."""
    st.plotly_chart(fig, theme=None, key=key, config=PLOTLY_CONFIG, width="stretch")
