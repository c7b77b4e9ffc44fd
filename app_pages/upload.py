"""Upload: analyse audio files, or one of the example clips, with every model."""

from pathlib import Path

import streamlit as st

from ser import config
from ui.analysis import EMOTION_EMOJI, KEPT_RESULTS, UPLOAD_FORMATS, UPLOAD_LIMITS, decode, keep, show_kept
from ui.resources import example_clips
from ui.setting import adapt_toggle, batch_setting
from ui.voice import voice_panel

RESULTS_STATE = "upload_results"  # session key: the clips analysed on this page, newest first
UPLOADER_STATE = "upload_round"  # session key: bumped to empty the uploader once its files are read
NOTICE_STATE = "upload_notice"  # session key: a message for the run after the uploader is emptied
PAGE = "upload"  # this page's own setting and voice reference (ui.setting, ui.voice), apart from Live's

st.title("Upload audio")
st.write("Analyse recorded speech with every model. Each file gets its own box with the "
         "verdicts, the probabilities, the signal and downloads of the results.")

upload_column, example_column = st.columns([3, 2], gap="large")
with upload_column:
    # Any file is accepted here, so that a picture or a document gets a visible one-line
    # reason below rather than the uploader's silent red mark.
    uploads = st.file_uploader(f"Audio files ({UPLOAD_FORMATS}; {UPLOAD_LIMITS})",
                               accept_multiple_files=True, max_upload_size=config.MAX_UPLOAD_MB,
                               key=f"uploader-{st.session_state.get(UPLOADER_STATE, 0)}")
    st.caption(f"The page keeps your last {KEPT_RESULTS} clips, newest first.")
    adapt_toggle(PAGE, "Adapt to this batch",
                 "When the clips come from one setting (the same room and microphone, the same "
                 "speakers), each is read among the others: the models hear how it differs from "
                 "the rest rather than from the corpora they learnt on. Needs two clips or more; "
                 "clips that all sound alike (one emotion, most likely) are read alone.")
    voice_panel(PAGE, "Every voice sounds different before any emotion. When your files are of one "
                "speaker, record or upload that speaker reading this passage **in their everyday "
                "voice**, neither acting nor whispering. The example clips, other voices, are read "
                "without it.", offer_upload=True)
with example_column:
    st.markdown("**Or try an example clip** from RAVDESS (CC BY-NC-SA 4.0)")
    for clip in example_clips().clips.itertuples():
        label = f"{EMOTION_EMOJI[clip.emotion]} {clip.emotion}, actor {clip.actor:02d}"
        if st.button(label, key=f"example-{Path(clip.path).stem}", width="stretch"):
            note = (f"RAVDESS label: **{clip.emotion}** ({clip.intensity} intensity), actor "
                    f"{clip.actor:02d} ({clip.gender}), \"{clip.statement}\". The models heard this "
                    "actor in training, so this score is higher than a new voice would get.")
            path = Path(clip.path)
            keep(RESULTS_STATE, [decode(path.read_bytes(), path.name, note=note, label=clip.emotion,
                                        example=True)])
    st.caption("The models heard these four actors in training, so they score higher on them than "
               "on a voice they never heard. The Compare page shows the scores on new voices.")

if uploads:
    # Read once, kept in the session (bounded), and the uploader emptied: its files would
    # otherwise stay in the server's memory for as long as the visitor keeps the page open.
    keep(RESULTS_STATE, [decode(upload.getvalue(), upload.name) for upload in uploads[:KEPT_RESULTS]])
    if len(uploads) > KEPT_RESULTS:
        st.session_state[NOTICE_STATE] = (f"{len(uploads)} files were dropped in at once: the first "
                                          f"{KEPT_RESULTS} are analysed. Add the others afterwards.")
    st.session_state[UPLOADER_STATE] = st.session_state.get(UPLOADER_STATE, 0) + 1
    st.rerun()

if NOTICE_STATE in st.session_state:
    st.info(st.session_state.pop(NOTICE_STATE))
show_kept(RESULTS_STATE, batch_setting(PAGE, st.session_state.get(RESULTS_STATE, [])), voice=PAGE)
