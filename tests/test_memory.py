"""ser.memory: freed memory goes back to the system (the figures are in benchmarks/memory.py)."""

import platform

import pytest

from ser import memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_glibc_is_asked_to_give_freed_memory_back():
    assert memory.give_back() is True


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's threshold is glibc's")
def test_glibc_maps_large_blocks_on_their_own():
    assert memory.map_large_blocks() is True


def test_memory_is_given_back_on_a_thread_of_its_own_started_once():
    thread = memory.give_back_every(3600.0)
    assert thread.is_alive() and thread.daemon
    assert memory.give_back_every(3600.0) is thread
