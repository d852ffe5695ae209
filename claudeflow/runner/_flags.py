"""The flags of ``claudeflow run`` and the help text after them (:data:`EPILOG`).

Every setting flag defaults to ``None`` (= not given), so that a value from the
``--config`` file is overridden only by a flag that was really given.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._settings import config_keys_help

__all__ = ["EPILOG", "add_flags"]

_EPILOG = """\
input lines:
  {"custom_id": "q1", "priority": "high", "model": ..., "max_tokens": ..., "messages": [...]}
  or {"custom_id": "q1", "params": {"model": ..., ...}} (not both styles in one line).
  custom_id is optional but must be unique in the file; a line without one is known by
  its content (content-<hash of its JSON>), so adding or removing lines keeps resuming
  exact. Blank lines are skipped. Bad lines are reported (line number, reason) in the
  results file as invalid. INPUT - reads stdin.

files:
  OUTPUT            one result per line: custom_id, status (succeeded, failed, invalid),
                    then the response or the error (type, message), line number, usage,
                    cost_usd, attempts; with --retry-failed a line can have several
                    records: the latest is its outcome
  OUTPUT.dead.jsonl every line whose latest result is not a success, exactly as it was
                    in the input (created only when there is one); retry them into
                    OUTPUT with the same command and --retry-failed
  missing directories of OUTPUT and the dead-letter file are created

exit status:
  0    every input line is in OUTPUT as succeeded
  1    OUTPUT holds failed or invalid lines (this run's or an earlier run's: see the
       dead-letter file), or --budget-usd stopped the run (the budget counts what OUTPUT
       already cost, so rerunning needs a bigger one)
  2    bad usage: arguments, config file, input/output paths (nothing was sent)
  3    aborted: the API refused the key (401, or 403 for every line tried before any
       success) or could not be reached; the cause is printed; lines not done stay not
       done, rerun once it is fixed. A 403 for some lines only (a model the key may not
       use) is those lines' failure
  130  interrupted by Ctrl-C (143: by SIGTERM); rerun the same command to resume

--config keys (.toml or .json; the same names as the long flags, - or _; flags win):
<config keys>
  example (run.toml):
    rpm = 50
    input_tpm = 30000
    output_tpm = 8000
    concurrency = 8
    max_retries = 4
    budget_usd = 5.0
    redis = "redis://127.0.0.1:6379/0"
  ANTHROPIC_API_KEY is never read from a config file.
"""
EPILOG = _EPILOG.replace("<config keys>", config_keys_help())


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Add every flag of ``claudeflow run`` to ``parser``, in the order ``--help`` shows."""
    _files(parser)
    _limits(parser.add_argument_group("limits (unset ones are learned from the API)"))
    _requests(parser.add_argument_group("requests"))
    _output(parser.add_argument_group("output"))
    _simulator(parser.add_argument_group("built-in simulator"))


def _files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="requests, one JSON object per line (- : stdin)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="results (JSONL)")
    parser.add_argument(
        "--dead-letter", help="failed lines (default: OUTPUT with .dead before its suffix)"
    )
    parser.add_argument(
        "--config", type=Path, help="settings file (.json or .toml; keys listed below)"
    )


def _limits(limits: argparse._ArgumentGroup) -> None:
    limits.add_argument("--rpm", type=float, help="requests per minute")
    limits.add_argument("--input-tpm", type=float, help="input tokens per minute")
    limits.add_argument("--output-tpm", type=float, help="output tokens per minute")
    limits.add_argument("--minute-seconds", type=float, help="length of a limit 'minute'")
    limits.add_argument("--burst", type=float, help="bucket size as a fraction of a minute")


def _requests(flow: argparse._ArgumentGroup) -> None:
    flow.add_argument("--concurrency", type=int, help="requests in flight (default 16)")
    flow.add_argument("--window", type=int, help="requests held in memory at once")
    flow.add_argument("--max-retries", type=int, help="retries per request (default 8)")
    flow.add_argument(
        "--output-reservation",
        choices=("max_tokens", "adaptive", "as_generated"),
        help="output tokens held per request (as_generated: the 2026 OTPM rule)",
    )
    flow.add_argument(
        "--budget-usd", type=float, help="most USD OUTPUT may cost, earlier runs included"
    )
    flow.add_argument(
        "--retry-failed",
        action="store_true",
        default=None,
        help="send the lines whose latest result failed again, into OUTPUT",
    )
    flow.add_argument("--base-url", help="API URL (default $ANTHROPIC_BASE_URL or the real API)")
    flow.add_argument(  # runner/_batches.py
        "--batches", action="store_true", default=None, help="use Message Batches (resumable)"
    )
    flow.add_argument(
        "--redis",
        metavar="URL",
        help="share the limits through Redis with the account's other processes",
    )


def _output(out: argparse._ArgumentGroup) -> None:
    out.add_argument("--fsync-interval", type=float, help="seconds between fsyncs (default 1)")
    out.add_argument("--progress-interval", type=float, help="seconds between progress lines")
    out.add_argument("--max-line-bytes", type=int, help="longer input lines are bad lines")
    out.add_argument("--quiet", action="store_true", default=None, help="no progress display")


def _simulator(sim: argparse._ArgumentGroup) -> None:
    sim.add_argument("--simulate", action="store_true", default=None, help="run offline")
    sim.add_argument("--sim-rpm", type=float)
    sim.add_argument("--sim-input-tpm", type=float)
    sim.add_argument("--sim-output-tpm", type=float)
    sim.add_argument("--sim-minute-seconds", type=float)
    sim.add_argument("--sim-ttft", type=float, help="seconds to first token")
    sim.add_argument("--sim-per-token", type=float, help="seconds per output token")
    sim.add_argument("--sim-seed", type=int)
    sim.add_argument("--sim-fault-529", type=float, help="probability of a 529 per request")
    sim.add_argument("--sim-fault-500", type=float, help="probability of a 500 per request")
