"""The garbage collector is paused while packs are read, and always left as it was found."""

from __future__ import annotations

import gc
import threading

from otrules.lang import collector
from otrules.lang.loader import check_source
from otrules.lang.parser import parse_source


def test_paused_inside_and_restored_after() -> None:
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
        with collector.paused():  # nested reads
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer read is still going
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_application_stays_off() -> None:
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_restored_when_the_read_fails() -> None:
    try:
        with collector.paused():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()


def test_reads_leave_it_on_whatever_the_pack() -> None:
    parse_source("rule r : info\n  when yes\n")
    parse_source("rule r : info\n  whne yes\n")  # an error, explained by Lark
    assert check_source("garbage ~~~\n")
    assert gc.isenabled()


def test_threads_reading_at_once_leave_it_on() -> None:
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                parse_source("rule r : info\n  when a + b > 1\n")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert gc.isenabled()


def test_objects_made_during_a_read_leave_the_youngest_generation() -> None:
    # The first collection after a read must not have to walk everything the read made.
    with collector.paused():
        parse_source("rule r : info\n  when a + b > 1\n")
        assert gc.get_count()[0] > 0
    assert gc.get_count()[0] < 50
    assert gc.get_freeze_count() == 0


def test_objects_the_application_froze_stay_frozen() -> None:
    kept = [object() for _ in range(10)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        parse_source("rule r : info\n  when a + b > 1\n")
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
    assert kept


def test_cyclic_garbage_made_during_a_read_is_still_collected() -> None:
    import weakref

    class Node:
        pass

    with collector.paused():
        a, b = Node(), Node()
        a.other, b.other = b, a  # type: ignore[attr-defined]
        watch = weakref.ref(a)
        del a, b
    assert watch() is not None  # a cycle: reference counting alone cannot free it
    gc.collect()
    assert watch() is None
