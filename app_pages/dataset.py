"""Dataset: browse the RAVDESS clips the server holds and run the models on any of them."""

from pathlib import Path

import pandas as pd
import streamlit as st

from ser import config, plots
from ser.cards import read_cards
from ser.corpora import CORPORA
from ser.dataset import RAVDESS_URL, filter_clips
from ui.analysis import KEPT_RESULTS, decode, keep, show_kept
from ui.charts import show_figure
from ui.resources import corpora_summary, dataset_clips, example_clips

RESULTS_STATE = "dataset_results"  # session key: the clips analysed on this page, newest first
FILTERS = {"emotion": "Emotion", "intensity": "Intensity", "actor": "Actor", "gender": "Gender",
           "statement": "Statement"}
# No file name: the clip picker below has it, and without it every column fits a projector.
TABLE_COLUMNS = ["emotion", "intensity", "statement", "actor", "gender"]

st.title("Dataset")
index = dataset_clips()
if index is None:
    index = example_clips()
    st.markdown("Browse the clips the models learnt from, listen to any of them and see whether "
                "the models get its emotion right.")
    st.info(f"**This server holds only the {len(index.clips)} example clips** that ship with the studio, "
            f"from {index.clips['actor'].nunique()} RAVDESS actors. The corpora the models learnt from "
            "are not here: *The corpora* at the end of the page says where they come from and how to "
            "add them.", icon=":material/info:")
else:
    st.markdown(f"Browse the {len(index.clips):,} RAVDESS clips on this server: filter them by "
                "emotion, actor or sentence, listen to any of them, and run the models to see whether "
                "they get the acted emotion right.")
st.caption("RAVDESS speech (Livingstone & Russo 2018, CC BY-NC-SA 4.0): 24 actors say two "
           "sentences in 8 emotions. Each clip's labels come from its file name.")

clips = index.clips
if clips.empty:
    st.warning("The clip folder holds no RAVDESS clips (files named like 03-01-05-02-01-01-12.wav).")
    st.stop()
st.markdown(f"**{len(clips):,} clips** from {clips['actor'].nunique()} actors in "
            f"{clips['emotion'].nunique()} emotions.")
if index.problems:
    with st.expander(f"{len(index.problems)} files do not follow the RAVDESS naming and are left out"):
        st.text("\n".join(index.problems))

st.subheader("Clips")
selections = {}
# A wrapping row of filters: five fixed columns cut their labels on a projector.
with st.container(horizontal=True):
    for field, label in FILTERS.items():
        options = [e for e in config.EMOTIONS if e in set(clips[field])] if field == "emotion" \
            else sorted(clips[field].unique().tolist())
        selections[field] = st.multiselect(label, options, placeholder="all", width=220,
                                           format_func=lambda v: f"{v:02d}" if isinstance(v, int) else str(v))
selected = filter_clips(clips, selections)
# Only the columns shown are sent: a hidden one would still reach the browser (the table's
# menu can reveal it), and the path column holds where the server keeps the clips. "auto":
# as tall as its rows, up to ten; four clips in a fixed-height table left blank rows.
st.dataframe(selected[TABLE_COLUMNS], hide_index=True, height="auto",
             column_config={"actor": st.column_config.NumberColumn(format="%02d", width="small"),
                            "intensity": st.column_config.TextColumn(width="small"),
                            "gender": st.column_config.TextColumn(width="small")})
st.caption(f"{len(selected):,} of {len(clips):,} clips.")

if not selected.empty:
    with st.container(horizontal=True):
        for field in ("emotion", "intensity", "gender"):
            show_figure(plots.class_balance_figure(selected, field), key=f"balance-{field}")
    show_figure(plots.class_balance_figure(selected, "actor"), key="balance-actor")

    st.subheader("Listen and analyse")
    trained_on = sorted({card.training["data"] for card in read_cards()})
    st.caption(f"The shipped models learnt from {'; '.join(trained_on)}: clips of other actors are "
               "voices they never heard.")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        path = st.selectbox("Clip", selected["path"], format_func=lambda p: Path(p).name, width=360)
        if st.button("Run the models", type="primary"):
            row = clips.set_index("path").loc[path]
            note = (f"RAVDESS label: **{row.emotion}** ({row.intensity} intensity), actor "
                    f"{row.actor:02d} ({row.gender}), \"{row.statement}\".")
            keep(RESULTS_STATE, [decode(Path(path).read_bytes(), Path(path).name, note=note,
                                        label=row.emotion)])
    st.audio(path, format=f"audio/{Path(path).suffix.lstrip('.').lower()}")
    st.caption(f"Each clip you run appears below, newest first; the page keeps the last {KEPT_RESULTS}.")
    show_kept(RESULTS_STATE)

st.subheader("The corpora")
st.caption("The models learnt from these corpora of acted speech; please cite them wherever these "
           "results are shown.")
on_server = corpora_summary()
st.table(pd.DataFrame(
    [{"corpus": corpus.name, "emotions": len(corpus.emotions),
      **on_server.get(corpus.id, {"clips here": "not on this server", "speakers": "–"}),
      "source": corpus.citation} for corpus in CORPORA.values()]).set_index("corpus"))

with st.expander("For the person running the server: adding the full data set"):
    st.markdown("The studio works without it (the models ship with the project). To browse all "
                "1,440 clips (the audio-only speech archive, about 200 MB), download it and start "
                "the server pointing at the folder:")
    st.code("python -m ser data download ~/data/ravdess\n"
            f"export {config.DATA_DIR_ENV}=~/data/ravdess\n"
            "streamlit run streamlit_app.py", language="bash")
    st.caption(f"The download comes from Zenodo ({RAVDESS_URL.split('?')[0]}), is checked "
               "against its published MD5 and is resumed if interrupted. Both the released layout "
               "(Actor_XX/*.wav) and a 16 kHz copy (Actor_XX/*.flac) work.")
