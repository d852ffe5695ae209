"""The suite's outputs: ``results.json`` (every figure and its configuration) and the table.

The table is Markdown, so the same text reads well in a terminal, in
``results.md`` and in the README. Efficiency is shown against both perfect schedules
(FIFO and work-conserving, :mod:`._perfect`) and, as before, against the lower bound.
Every figure in it comes from :class:`SuiteResult`; nothing is recomputed here except
formatting.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._goals import Verdict
from ._metrics import RunMetrics
from ._suite import SuiteResult

__all__ = ["SCHEMA_VERSION", "render_table", "to_json", "write_results"]

SCHEMA_VERSION = 1
RUN_COLUMNS = (
    "scenario",
    "client",
    "eff. vs FIFO",
    "eff. vs work-cons.",
    "eff. vs bound (old)",
    "wall / FIFO / work-cons. (s)",
    "ok / failed",
    "429s /1k",
    "attempts /req",
    "queue wait p50 / p95 / p99 (s)",
    "large req. wait; end to end",
)


def to_json(result: SuiteResult) -> dict[str, Any]:
    """Every figure, with the configuration that produced it (JSON-ready)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "started_at": result.started_at,
        "wall_s": result.wall_s,
        "config": result.config.describe(),
        "environment": result.environment,
        "scenarios": [
            {**scenario.describe(), "clients": list(clients)}
            for scenario, (_, clients) in zip(result.scenarios, result.plan, strict=True)
        ],
        "runs": [run.as_dict() for run in result.runs],
        "overhead": None if result.overhead is None else result.overhead.as_dict(),
        "scale": None if result.scale is None else result.scale.as_dict(),
        "goals": [verdict.as_dict() for verdict in result.verdicts],
        "errors": dict(result.errors),
    }


def write_results(result: SuiteResult, folder: Path) -> list[Path]:
    """``results.json`` and ``results.md`` in ``folder`` (created); returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "results.json"
    data.write_text(json.dumps(to_json(result), indent=1, default=_plain) + "\n")
    table = folder / "results.md"
    table.write_text(render_table(result) + "\n")
    return [data, table]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | frozenset | set):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def render_table(result: SuiteResult) -> str:
    """The report: runs table, overhead and scale lines, and one verdict per goal."""
    parts = [
        f"claudeflow bench · {result.started_at} · {result.environment.get('cpu_count')} CPUs"
        f" · seed {result.config.seed} · {_mode(result)} · suite {result.wall_s:.0f}s",
        "",
    ]
    if result.runs:
        parts += [_markdown(RUN_COLUMNS, (_run_row(run) for run in result.runs)), ""]
    if result.overhead is not None:
        o = result.overhead
        parts.append(
            f"- **overhead** (limits off, zero latency, simulator in a child process, "
            f"concurrency {o.config.concurrency}): Flow {o.flow_per_s:,.0f} req/s vs raw aiohttp"
            f" {o.raw_per_s:,.0f} req/s = **{o.ratio:.2f}** (median of paired rounds "
            f"{o.median_pair_ratio:.2f}); CPU {o.flow_cpu_us:.0f} µs/request vs "
            f"{o.raw_cpu_us:.0f} µs (+{o.added_cpu_us:.0f} µs)"
        )
    if result.scale is not None:
        s = result.scale
        parts.append(
            f"- **memory** at {s.config.queued:,} queued: **{s.bytes_per_request:,.0f} B** per "
            f"queued request ({s.claudeflow_bytes_per_request:,.0f} B beyond the "
            f"{s.asyncio_floor_bytes:,.0f} B of a bare awaiting task); enqueue "
            f"{s.enqueue_us[0][1]:.0f}→{s.enqueue_us[-1][1]:.0f} µs/request as the line grows;"
            f" dispatch {s.dispatch_shallow_us:.0f} µs/request shallow, "
            f"{s.dispatch_deep_us:.0f} µs deep"
        )
    if result.overhead is not None or result.scale is not None:
        parts.append("")
    for name, error in result.errors.items():
        parts.append(f"- **{name} failed**: {error}")
    if result.errors:
        parts.append("")
    parts.append("Goals:")
    parts += [f"- {_verdict_line(v)}" for v in result.verdicts]
    return "\n".join(parts)


def _mode(result: SuiteResult) -> str:
    config = result.config
    if config.smoke:
        return "smoke (reduced sizes)"
    return f"scale {config.scale:g}" + (f" · {config.base_url}" if config.base_url else "")


def _verdict_line(v: Verdict) -> str:
    detail = f" — {v.detail}" if v.detail else ""
    return f"{v.goal} · {v.subject}: **{v.label}** ({v.measured}; target {v.target}){detail}"


def _run_row(run: RunMetrics) -> list[str]:
    large = run.large_request
    large_text = "-"
    if large is not None:
        wait, periods, e2e = large.get("wait_s"), large.get("wait_periods"), large.get("e2e_s")
        large_text = "never started" if wait is None else f"{wait:.2f}s ({periods:.1f} periods)"
        large_text += "; not done" if e2e is None else f"; done after {e2e:.2f}s"
    status = f"{run.completed} / {run.failed}"
    if run.unfinished:
        status += f" (+{run.unfinished} unfinished)"
    timed_out = " (timed out)" if run.timed_out else ""
    walls = (run.wall_s, run.perfect_fifo_s, run.perfect_work_conserving_s)
    return [
        run.scenario,
        run.client,
        _num(run.efficiency_fifo, 3) + timed_out,
        _num(run.efficiency_work_conserving, 3),
        _num(run.efficiency, 3),
        " / ".join(_num(w, 2) for w in walls),
        status,
        _num(run.per_1k_429, 1),
        _num(run.attempts_per_request, 2),
        _waits(run.queue_wait_s),
        large_text,
    ]


def _waits(by_class: Mapping[str, Mapping[str, float | int]]) -> str:
    cells = []
    for name, stats in by_class.items():
        if not stats.get("n"):
            cells.append(f"{name} -")
            continue
        p = [_num(stats.get(q), 3) for q in ("p50", "p95", "p99")]
        cells.append(f"{name} {' / '.join(p)}")
    return "; ".join(cells) or "-"


def _num(value: float | int | None, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _markdown(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
