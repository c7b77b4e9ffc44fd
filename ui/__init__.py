"""Streamlit pieces shared by the pages: cached resources, the analysis panel, charts.

The library (``ser``) knows nothing of Streamlit; everything that touches ``st``
and is used by more than one page lives here.
"""
