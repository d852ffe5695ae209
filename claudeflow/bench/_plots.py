"""PNG figures of a suite's results (matplotlib, Agg backend; imported only when plotting).

- ``throughput_<scenario>.png``: per client, what the server admitted per second in the
  scenario's binding dimension, against the limit's refill rate, over the run (from
  the sampler's series of server counters).
- ``queue_wait_<scenario>.png`` for scenarios with several priority classes: queue wait
  p50/p95/p99 per class and client (log scale).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._metrics import RunMetrics
from ._sampler import Sample
from ._scenario import Dimension, LoadScenario
from ._suite import SuiteResult

__all__ = ["write_plots"]

_SMOOTH_S = 0.5  # rates over a trailing window this long
_UNITS = {
    "requests": "requests/s",
    "input_tokens": "input tokens/s",
    "output_tokens": "output tokens/s",
}


def write_plots(result: SuiteResult, folder: Path) -> list[Path]:
    """Write every figure into ``folder``; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for scenario in result.scenarios:
        runs = [r for r in result.runs if r.scenario == scenario.name]
        if not runs or not any(r.series for r in runs):
            continue
        written.append(_throughput(plt, scenario, runs, folder))
        if len({cls for r in runs for cls in r.queue_wait_s}) > 1:
            written.append(_queue_wait(plt, scenario, runs, folder))
    return written


def _binding(scenario: LoadScenario, runs: Sequence[RunMetrics]) -> Dimension:
    for run in runs:
        if run.binding in ("requests", "input_tokens", "output_tokens"):
            return run.binding  # type: ignore[return-value]
    limits = scenario.limits
    rated = [d for d in ("input_tokens", "output_tokens", "requests") if limits.rate(d)]
    return rated[0] if rated else "requests"  # type: ignore[return-value]


def _rates(series: Sequence[Sample], dimension: Dimension) -> tuple[list[float], list[float]]:
    """Per-second rate of ``dimension`` over a trailing window, at each sample time."""
    times = [s.t for s in series]
    values = [float(getattr(s, dimension)) for s in series]
    out_t: list[float] = []
    out_r: list[float] = []
    start = 0
    for i, t in enumerate(times):
        while times[start] < t - _SMOOTH_S:
            start += 1
        span = t - times[start]
        if span > 0:
            out_t.append(t)
            out_r.append((values[i] - values[start]) / span)
    return out_t, out_r


def _throughput(plt: Any, scenario: LoadScenario, runs: Sequence[RunMetrics], folder: Path) -> Path:
    dimension = _binding(scenario, runs)
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    for run in runs:
        t, rate = _rates(run.series, dimension)
        fifo = run.efficiency_fifo
        eff = "" if fifo is None else f" ({fifo:.2f} of the perfect FIFO schedule)"
        ax.plot(t, rate, label=f"{run.client}{eff}", linewidth=1.4)
    limit = scenario.account_limits.rate(dimension)
    if limit is not None:
        ax.axhline(limit, color="black", linestyle="--", linewidth=1, label="limit (refill rate)")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel(f"admitted {_UNITS[dimension]} ({_SMOOTH_S:g} s window)")
    ax.set_title(f"{scenario.name}: {scenario.title}", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = folder / f"throughput_{scenario.name}.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def _queue_wait(plt: Any, scenario: LoadScenario, runs: Sequence[RunMetrics], folder: Path) -> Path:
    classes = sorted({cls for r in runs for cls in r.queue_wait_s})
    quantiles = ("p50", "p95", "p99")
    fig, axes = plt.subplots(1, len(classes), figsize=(4 * len(classes), 3.8), dpi=110)
    axes = list(axes) if len(classes) > 1 else [axes]
    width = 0.8 / max(1, len(runs))
    for ax, cls in zip(axes, classes, strict=True):
        for n, run in enumerate(runs):
            stats = run.queue_wait_s.get(cls, {})
            values = [max(1e-4, float(stats.get(q, 0.0))) for q in quantiles]
            xs = [i + n * width for i in range(len(quantiles))]
            ax.bar(xs, values, width=width, label=run.client)
        ax.set_xticks([i + width * (len(runs) - 1) / 2 for i in range(len(quantiles))])
        ax.set_xticklabels(quantiles)
        ax.set_yscale("log")
        ax.set_title(f"{cls} priority", fontsize=9)
        ax.set_ylabel("queue wait (s, log)")
        ax.grid(alpha=0.3, axis="y")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{scenario.name}: queue wait by priority", fontsize=10)
    fig.tight_layout()
    path = folder / f"queue_wait_{scenario.name}.png"
    fig.savefig(path)
    plt.close(fig)
    return path
