"""The Live page's guard that keeps a stream alive across the page's own reruns."""

from streamlit.testing.v1 import AppTest
from streamlit_webrtc.component import WebRtcStreamerContext, WebRtcStreamerState


def test_streamlit_webrtc_still_has_the_run_count_the_guard_clears():
    # The guard writes a private attribute of the pinned streamlit-webrtc: an upgrade that
    # renames it must fail here rather than leave streams stopping silently.
    context = WebRtcStreamerContext(worker=None, state=WebRtcStreamerState(playing=False, signalling=False))
    assert hasattr(context, "_last_rendered_run_count")


def guard_app(pages: list[str]) -> None:
    import streamlit as st
    from streamlit_webrtc.component import WebRtcStreamerContext, WebRtcStreamerState

    from ui.stream import keep_stream_on_page, note_page_shown

    context = st.session_state.setdefault("mic", WebRtcStreamerContext(
        worker=None, state=WebRtcStreamerState(playing=True, signalling=False)))
    run = st.session_state.setdefault("run", 0)
    st.session_state.run = run + 1
    note_page_shown(pages[min(run, len(pages) - 1)])
    context._last_rendered_run_count = 7
    keep_stream_on_page("mic")
    st.write(repr(context._last_rendered_run_count))


def test_the_run_count_check_is_skipped_only_when_the_previous_run_showed_the_same_page():
    at = AppTest.from_function(guard_app, args=(["", "upload", "", ""],)).run()
    assert at.markdown[0].value == "7"  # first run: no page before it
    assert at.run().markdown[0].value == "7"  # on Upload
    assert at.run().markdown[0].value == "7"  # back from Upload: the component's check stays
    assert at.run().markdown[0].value == "None"  # Live again after Live: the check is skipped
