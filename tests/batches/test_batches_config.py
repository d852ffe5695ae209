"""BatchOffload settings and the default rule."""

from __future__ import annotations

import pytest

from claudeflow import ConfigError, Priority
from claudeflow.batches import BatchOffload, default_rule


@pytest.mark.parametrize(
    ("priority", "queue_timeout", "batched"),
    [
        (Priority.LOW, None, True),
        (Priority.LOW, 7200.0, True),
        (Priority.LOW, 3600.0, False),
        (Priority.NORMAL, None, False),
        (Priority.HIGH, 1e9, False),
        (7, None, True),
    ],
)
def test_default_rule_batches_low_priority_work_that_can_wait_an_hour(
    priority: int, queue_timeout: float | None, batched: bool
) -> None:
    assert default_rule(priority, queue_timeout) is batched


def test_poll_delay_grows_to_its_cap() -> None:
    config = BatchOffload(poll_s=2, poll_factor=2, poll_max_s=10)
    assert [config.poll_delay(n) for n in range(5)] == [2, 4, 8, 10, 10]


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"rule": True}, "rule"),
        ({"linger_s": 0}, "linger_s"),
        ({"poll_s": -1}, "poll_s"),
        ({"poll_factor": 0.5}, "poll_factor"),
        ({"poll_max_s": float("nan")}, "poll_max_s"),
        ({"max_requests": 100_001}, "max_requests"),
        ({"max_requests": 0}, "max_requests"),
        ({"max_bytes": 256_000_001}, "max_bytes"),
    ],
)
def test_bad_settings_name_the_argument(kwargs: dict[str, object], argument: str) -> None:
    with pytest.raises(ConfigError) as caught:
        BatchOffload(**kwargs)  # type: ignore[arg-type]
    assert caught.value.argument == argument
