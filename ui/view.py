"""Bringing a new result into view: on a projector the page's widgets fill the first screen,
so a result drawn under them looked as if nothing had happened."""

from __future__ import annotations

import json
from itertools import count

import streamlit as st

_tokens = count()  # makes each request new HTML, so the browser runs it even where one stood before

# Scrolls the nearest scrolling box above the first element matching `selector` so that the
# element's top sits just under Streamlit's header, or higher where the first match of `then`
# inside it would end below the window; waits (up to 8 s) for it to be drawn, and looks again
# once charts above `then` have taken their height.
_SCRIPT = """<script data-ser-view="%(token)s">(() => {
  const selector = %(selector)s, then = %(then)s, deadline = Date.now() + 8000;
  const scroll = (again) => {
    const target = document.querySelector(selector);
    if (!target) { if (Date.now() < deadline) setTimeout(() => scroll(again), 100); return; }
    let box = target.parentElement;
    while (box && !(box.scrollHeight > box.clientHeight
                    && /(auto|scroll)/.test(getComputedStyle(box).overflowY))) box = box.parentElement;
    const header = document.querySelector('[data-testid="stHeader"]');
    let by = target.getBoundingClientRect().top - (header ? header.getBoundingClientRect().bottom : 0) - 8;
    const inner = then && target.querySelector(then);
    if (inner) by = Math.max(by, inner.getBoundingClientRect().bottom - window.innerHeight + 8);
    (box || document.scrollingElement).scrollBy({top: by});
    if (again) setTimeout(() => scroll(false), 700);
  };
  scroll(true);
})();</script>"""


def bring_into_view(selector: str, then: str | None = None) -> None:
    """Scroll the page, once, so that the element matching the CSS ``selector`` is at the top
    of the screen, or as near it as lets the first match of ``then`` inside it be seen whole.
    Call it after drawing that element (in the same run)."""
    st.html(_SCRIPT % {"token": next(_tokens), "selector": json.dumps(selector), "then": json.dumps(then)},
            unsafe_allow_javascript=True, width="content")
