"""The waiting line: strict classes, FIFO inside a class, aging, stable keys on retry."""

from __future__ import annotations

from dataclasses import dataclass

from claudeflow.scheduler._queue import WaitingLine


@dataclass(eq=False)
class Item:
    name: str
    priority: int
    key: tuple[float, int] | None = None
    queued: bool = False


def order(line: WaitingLine[Item]) -> list[str]:
    names = []
    while line.head() is not None:
        names.append(line.pop().name)
    return names


def test_priority_then_fifo() -> None:
    line: WaitingLine[Item] = WaitingLine()
    for name, prio in [("low1", 2), ("high1", 0), ("low2", 2), ("norm", 1), ("high2", 0)]:
        line.push(Item(name, prio), now=0.0)
    assert order(line) == ["high1", "high2", "norm", "low1", "low2"]


def test_aging_bounds_how_long_a_low_class_waits() -> None:
    line: WaitingLine[Item] = WaitingLine(aging_s=10.0)
    line.push(Item("old-low", 2), now=0.0)  # key 20
    line.push(Item("early-high", 0), now=15.0)  # key 15: still overtakes
    line.push(Item("late-high", 0), now=25.0)  # key 25: arrived too late to overtake
    assert order(line) == ["early-high", "old-low", "late-high"]


def test_requeued_job_keeps_its_place() -> None:
    line: WaitingLine[Item] = WaitingLine()
    first = Item("first", 1)
    line.push(first, now=0.0)
    line.push(Item("second", 1), now=0.0)
    assert line.pop() is first
    line.push(Item("third", 1), now=1.0)
    line.push(first, now=2.0)  # a retry comes back
    assert order(line) == ["first", "second", "third"]


def test_discard_removes_from_the_middle_and_counts_stay_right() -> None:
    line: WaitingLine[Item] = WaitingLine()
    items = [Item(str(i), i % 2) for i in range(4)]
    for item in items:
        line.push(item, now=0.0)
    line.discard(items[2])
    line.discard(items[2])  # twice is harmless
    assert len(line) == 3
    assert line.depth_by_class() == {0: 1, 1: 2}
    assert order(line) == ["0", "1", "3"]
    assert len(line) == 0


def test_drain_returns_live_jobs_in_order() -> None:
    line: WaitingLine[Item] = WaitingLine()
    a, b, c = Item("a", 1), Item("b", 0), Item("c", 2)
    for item in (a, b, c):
        line.push(item, now=0.0)
    line.discard(c)
    assert [i.name for i in line.drain()] == ["b", "a"]
    assert len(line) == 0 and line.head() is None
