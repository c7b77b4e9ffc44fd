"""A few analyses at once, the rest in line: what keeps a server's memory bounded however
many visitors arrive together.

A 2-minute clip costs a few hundred MB while it is analysed, and two CPU cores run two
analyses no slower in total than one after the other; so the app holds a slot for each
analysis, and a visitor whose turn has not come is told their place in the line.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Slots:
    """At most ``size`` holders at once; the others wait in the order they came."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"need at least one slot, got {size}")
        self.size = size
        self._changed = threading.Condition()
        self._holders = 0
        self._line: deque[object] = deque()  # the waiting, first come first

    @contextmanager
    def hold(self, on_wait: Callable[[int], None] | None = None, poll_s: float = 0.5) -> Iterator[None]:
        """Hold a slot for the ``with`` block, waiting for one first if all are held.

        While waiting, ``on_wait(place)`` is called at once and then every ``poll_s`` seconds
        with this holder's place in the line (1: next). Whatever it raises (a visitor who
        left: Streamlit stops their script there) gives the place up.
        """
        ticket = object()
        with self._changed:
            self._line.append(ticket)
        try:
            while True:
                with self._changed:
                    if self._line[0] is ticket and self._holders < self.size:
                        self._line.popleft()
                        self._holders += 1
                        self._changed.notify_all()  # the next in line may have a slot too
                        break
                    place = self._line.index(ticket) + 1
                if on_wait is not None:
                    on_wait(place)
                with self._changed:
                    self._changed.wait(poll_s)
        except BaseException:
            with self._changed:
                self._line.remove(ticket)
                self._changed.notify_all()
            raise
        try:
            yield
        finally:
            with self._changed:
                self._holders -= 1
                self._changed.notify_all()
