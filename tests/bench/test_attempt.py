"""When an admitted attempt's output is counted and when it ends, as the simulator times it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from claudeflow.bench._attempt import timeline
from claudeflow.simulator import SimulatorConfig
from claudeflow.simulator._faults import Fault

# 1 s to the first token, then 0.1 s per token; streams carry 4 tokens per delta.
_CONFIG = SimulatorConfig(ttft_s=1.0, per_token_s=0.1, stream_chunk_tokens=4)


def test_a_json_reply_counts_its_tokens_as_they_are_generated() -> None:
    # The actual rule: token k exists 1 s + 0.1 s * (k - 1) after admission, counted every 4.
    plan = timeline(10, _CONFIG, streaming=False, fault=None)
    assert [tokens for _, tokens in plan.steps] == [4, 8, 10]
    assert [at for at, _ in plan.steps] == pytest.approx([1.3, 1.7, 1.9])  # ends at ttft + 9
    assert not plan.failed
    dropped = timeline(10, _CONFIG, streaming=False, fault=Fault.CONNECTION_DROP)
    assert (dropped.end, dropped.produced, dropped.failed) == (plan.end, 10, True)


def test_a_json_reply_under_the_reserve_rule_counts_at_the_end() -> None:
    config = replace(_CONFIG, otpm_mode="reserve_max_tokens")
    plan = timeline(10, config, streaming=False, fault=None)
    assert plan.steps == ((pytest.approx(1.9), 10),)  # ttft + 9 more tokens


def test_zero_latency_replies_end_at_once() -> None:
    config = SimulatorConfig(ttft_s=0.0, per_token_s=0.0)
    assert timeline(10, config, streaming=False, fault=None).steps == ((0.0, 10),)


def test_a_stream_counts_chunk_by_chunk() -> None:
    # Deltas of 4, 4, 2 tokens: at 1 s, then 0.4 s and 0.2 s later; the tail adds no delay.
    plan = timeline(10, _CONFIG, streaming=True, fault=None)
    assert [tokens for _, tokens in plan.steps] == [4, 8, 10, 10]
    assert [at for at, _ in plan.steps] == pytest.approx([1.0, 1.4, 1.6, 1.6])
    assert not plan.failed


def test_stream_faults_cut_the_reply_half_way() -> None:
    error = timeline(10, _CONFIG, streaming=True, fault=Fault.STREAM_ERROR)
    assert (error.steps, error.failed) == (((1.0, 4),), True)  # 1 of 3 deltas, then error
    dropped = timeline(10, _CONFIG, streaming=True, fault=Fault.CONNECTION_DROP)
    assert [tokens for _, tokens in dropped.steps] == [4, 8]  # 2 of 4 chunks
    assert dropped.failed
