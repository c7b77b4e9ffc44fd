"""The microphone stream's component (streamlit-webrtc), kept alive across the Live page's reruns.

streamlit-webrtc (0.79) stops a stream when the session's count of finished script runs has
moved on by more than one since the component was last drawn: its sign that the visitor went
to another page and came back, so the browser made a new component. Streamlit raises that
count on its event loop, when a run's "finished" message goes out; on busy cores the next run
can start before it does, read a stale count, and the run after it then sees a gap of two and
stops a stream that never left the page. The browser benchmark caught it ("was not rendered
for 1 script runs; resetting stale state" in streamlit-webrtc's debug log) in about one START
in ten pressed while the models loaded, and in one of three visitors streaming at once.

So the app records which page each full run shows, and the component's own check runs only
when the previous run showed another page.
"""

from __future__ import annotations

import streamlit as st

SHOWN_STATE = "ser_page_shown"  # session key: the page this full run shows (its url_path)
PREVIOUS_STATE = "ser_page_before"  # session key: the page the run before it showed


def note_page_shown(url_path: str) -> None:
    """Called once per full run, by the page list, with the page it is about to run."""
    state = st.session_state
    state[PREVIOUS_STATE] = state.get(SHOWN_STATE)
    state[SHOWN_STATE] = url_path


def keep_stream_on_page(key: str) -> None:
    """Before ``webrtc_streamer(key=key)``: when the previous run showed this same page, the
    browser kept the component, so its stream must not be reset as if it had been left."""
    state = st.session_state
    context = state.get(key)
    if context is not None and state.get(PREVIOUS_STATE) == state.get(SHOWN_STATE):
        context._last_rendered_run_count = None  # private to streamlit-webrtc, pinned to 0.79.0
