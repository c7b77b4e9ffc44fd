"""Dataset: browse the RAVDESS clips, check the folder, run the models on any clip."""

from pathlib import Path

import streamlit as st

from ser import config, plots
from ser.dataset import RAVDESS_URL, filter_clips
from ui.analysis import load_user_audio, render_analysis
from ui.charts import show_figure
from ui.resources import get_dataset_index

ANALYSED_STATE = "dataset_analysed"  # session key: path of the clip last sent to the models
FILTERS = {"emotion": "Emotion", "intensity": "Intensity", "actor": "Actor", "gender": "Gender",
           "statement": "Statement"}
TABLE_COLUMNS = ["file", "emotion", "intensity", "statement", "repetition", "actor", "gender"]

st.title("Dataset")
st.caption("RAVDESS speech (Livingstone & Russo 2018, CC BY-NC-SA 4.0): every clip's labels come "
           "from its file name, so this page never decodes audio until you play or analyse a clip.")
default_root = config.data_dir()
root = st.text_input("RAVDESS folder", value=str(default_root or ""), placeholder="/path/to/ravdess",
                     help=f"Set ${config.DATA_DIR_ENV} to fill this in at start-up. Both the released "
                          "layout (Actor_XX/*.wav) and the 16 kHz copy (Actor_XX/*.flac) work.").strip()

if not root or not Path(root).expanduser().is_dir():
    if root:
        st.error(f"`{root}` is not a folder.")
    st.info("No RAVDESS data here yet. The app works without it (the models ship with the "
            "project); this page needs it to browse the clips. To get the audio-only speech "
            "archive (1,440 clips, about 200 MB, CC BY-NC-SA 4.0) and point the app at it:")
    st.code("python -m ser data download ~/data/ravdess\n"
            f"export {config.DATA_DIR_ENV}=~/data/ravdess\n"
            "streamlit run streamlit_app.py", language="bash")
    st.caption(f"The download comes from Zenodo ({RAVDESS_URL.split('?')[0]}), is checked "
               "against its published MD5 and is resumed if interrupted. Or type the path of a "
               "folder you already have above.")
    st.stop()

index = get_dataset_index(str(Path(root).expanduser()))
clips = index.clips
if clips.empty:
    st.warning(f"`{root}` holds no RAVDESS clips (files named like `03-01-05-02-01-01-12.wav`).")
    st.stop()

counts = st.columns(4)
counts[0].metric("Clips", f"{len(clips):,}")
counts[1].metric("Actors", clips["actor"].nunique())
counts[2].metric("Emotions", clips["emotion"].nunique())
counts[3].metric("Problems", len(index.problems))
if index.problems:
    with st.expander(f"⚠️ {len(index.problems)} files were left out or duplicated"):
        st.code("\n".join(index.problems), language=None)
else:
    st.success("Every audio file follows the RAVDESS naming scheme.")

st.subheader("Clips")
selections = {}
for column, (field, label) in zip(st.columns(len(FILTERS)), FILTERS.items()):
    options = [e for e in config.EMOTIONS if e in set(clips[field])] if field == "emotion" \
        else sorted(clips[field].unique().tolist())
    selections[field] = column.multiselect(label, options, placeholder="all",
                                           format_func=lambda v: f"{v:02d}" if isinstance(v, int) else str(v))
selected = filter_clips(clips, selections)
table = selected.assign(file=selected["path"].map(lambda p: Path(p).name))
st.dataframe(table, hide_index=True, column_order=TABLE_COLUMNS, height=320)
st.caption(f"{len(selected):,} of {len(clips):,} clips.")

if not selected.empty:
    for column, field in zip(st.columns([2, 1, 1]), ("emotion", "intensity", "gender")):
        with column:
            show_figure(plots.class_balance_figure(selected, field), key=f"balance-{field}")
    show_figure(plots.class_balance_figure(selected, "actor"), key="balance-actor")

    st.subheader("Listen and analyse")
    pick, run = st.columns([4, 1], vertical_alignment="bottom")
    path = pick.selectbox("Clip", selected["path"], format_func=lambda p: Path(p).name)
    if run.button("Run the models", type="primary", width="stretch"):
        st.session_state[ANALYSED_STATE] = path
    analysed = st.session_state.get(ANALYSED_STATE)
    if analysed in set(clips["path"]):
        labels = clips.set_index("path").loc[analysed]
        st.markdown(f"**{Path(analysed).name}**: RAVDESS label **{labels.emotion}** "
                    f"({labels.intensity}), actor {labels.actor:02d} ({labels.gender}).")
        audio = load_user_audio(Path(analysed).read_bytes(), Path(analysed).name)
        if audio is not None:
            render_analysis(audio, Path(analysed).name, key="dataset")
    else:
        st.audio(path, format=f"audio/{Path(path).suffix.lstrip('.').lower()}")
