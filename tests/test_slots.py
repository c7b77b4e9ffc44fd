"""ser.slots: at most a few analyses at once, the others in line and told their place."""

import threading
import time

import pytest

from ser.slots import Slots

POLL_S = 0.01


def test_at_most_size_hold_at_once_and_the_rest_go_in_the_order_they_came():
    slots = Slots(2)
    lock, inside, most, order, places = threading.Lock(), [0], [0], [], {}
    release = threading.Event()

    def visitor(k: int) -> None:
        with slots.hold(on_wait=lambda place: places.setdefault(k, []).append(place), poll_s=POLL_S):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                order.append(k)
            release.wait()
            with lock:
                inside[0] -= 1

    threads = []
    for k in range(6):  # one after the other, so the line's order is known
        threads.append(threading.Thread(target=visitor, args=(k,)))
        threads[-1].start()
        time.sleep(5 * POLL_S)
    release.set()
    for thread in threads:
        thread.join(timeout=5)
    assert order == list(range(6))
    assert most[0] == 2
    assert 0 not in places and 1 not in places  # a free slot: no wait
    assert places[2][0] == 1 and places[5][0] == 4  # told their place at once
    assert all(p == sorted(p, reverse=True) for p in places.values())  # and it only moves up


def test_a_waiter_that_leaves_gives_up_its_place():
    slots = Slots(1)
    held, release, gone = threading.Event(), threading.Event(), []

    def first() -> None:
        with slots.hold():
            held.set()
            release.wait()

    def leaving(place: int) -> None:
        raise KeyboardInterrupt  # as Streamlit stops the script of a visitor who left

    runner = threading.Thread(target=first)
    runner.start()
    held.wait()
    with pytest.raises(KeyboardInterrupt):
        with slots.hold(on_wait=leaving, poll_s=POLL_S):
            gone.append("entered")  # never: it left while waiting
    release.set()
    runner.join(timeout=5)
    with slots.hold(on_wait=lambda place: gone.append(place), poll_s=POLL_S):
        pass  # the line is empty again: a slot at once
    assert gone == []


def test_a_slot_is_needed():
    with pytest.raises(ValueError):
        Slots(0)
