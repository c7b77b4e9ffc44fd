"""Text for the audience: user-supplied strings made safe for Streamlit's markdown, and the
server's own messages rid of where it keeps its files."""

import re
from pathlib import Path

from ser import config

# Characters that mean something anywhere in a line of Streamlit's markdown: emphasis, code,
# links, HTML, LaTeX, tables, strike-through and its own :colour[...] / :material/...: directives.
_INLINE = re.compile(r"([\\`*_\[\]<>$:~|])")
# What means something only at the start of a line: a heading, a list item, a quote.
_LINE_START = re.compile(r"^(\s*[#>+-]|\s*\d+[.)])")


def plain(text: str) -> str:
    """``text`` (a file name, say) escaped so that ``st.markdown`` and friends show it as typed."""
    escaped = _INLINE.sub(r"\\\1", text)
    # The escape goes before the last character: "\- a" and "1\. a" are plain text.
    return _LINE_START.sub(lambda m: m[1][:-1] + "\\" + m[1][-1], escaped)


def without_server_paths(text: str) -> str:
    """``text`` (an error's message, say) with the project's folder left out of the paths in
    it and the home folder written ``~``: where the server keeps its files is not a
    visitor's business."""
    return text.replace(f"{config.PROJECT_DIR}/", "").replace(str(Path.home()), "~")
