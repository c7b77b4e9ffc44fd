"""Upload: analyse audio files, or one of the example clips, with every model."""

from pathlib import Path

import streamlit as st

from ui.analysis import EMOTION_EMOJI, UPLOAD_TYPES, load_user_audio, render_analysis
from ui.resources import example_clips

EXAMPLE_STATE = "upload_example"  # session key: path of the example clip last clicked

st.title("Upload audio")
st.write("Analyse recorded speech with every model. Each file gets its own section with the "
         "verdicts, the probabilities, the signal and downloads of the results.")

upload_column, example_column = st.columns([3, 2], gap="large")
with upload_column:
    uploads = st.file_uploader("Audio files (wav, flac, mp3, ogg, m4a, webm; 0.5 s to 2 min each)",
                               type=UPLOAD_TYPES, accept_multiple_files=True)
with example_column:
    st.markdown("**Or try an example clip** from RAVDESS (CC BY-NC-SA 4.0)")
    for clip in example_clips().clips.itertuples():
        label = f"{EMOTION_EMOJI[clip.emotion]} {clip.emotion}, actor {clip.actor:02d} ({clip.gender})"
        if st.button(label, key=f"example-{Path(clip.path).stem}", width="stretch"):
            st.session_state[EXAMPLE_STATE] = clip.path

example = st.session_state.get(EXAMPLE_STATE)
if example:
    labels = example_clips().clips.set_index("path").loc[example]
    with st.expander(f"Example: {Path(example).name}", expanded=True):
        st.caption(f"RAVDESS label: **{labels.emotion}** ({labels.intensity} intensity), "
                   f"actor {labels.actor:02d} ({labels.gender}), \"{labels.statement}\".")
        audio = load_user_audio(Path(example).read_bytes(), Path(example).name)
        if audio is not None:
            render_analysis(audio, Path(example).name, key="example")

for upload in uploads or []:
    with st.expander(upload.name, expanded=True):
        audio = load_user_audio(upload.getvalue(), upload.name)
        if audio is not None:
            render_analysis(audio, upload.name, key=f"upload-{upload.file_id}")
