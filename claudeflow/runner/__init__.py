"""Batch jobs from JSONL files: streamed, rate-limited, resumable (``claudeflow run``).

>>> wire = WireTracker(AiohttpTransport("https://api.anthropic.com"))  # doctest: +SKIP
>>> async with Flow(limits=RateLimits(rpm=50), transport=wire) as flow:  # doctest: +SKIP
...     files = RunFiles(Path("requests.jsonl"), Path("results.jsonl"), Path("dead.jsonl"))
...     summary = await run_jsonl(flow, files, wire=wire)

Each input line is a Messages API body with optional ``custom_id`` (unique in the file;
without one a line is known by a hash of its content) and ``priority``; each result line
holds the ``custom_id``, the response or the typed error, the line number, usage, cost
and attempts. Failed and bad lines also go, byte for byte as they were given, to a
dead-letter file that is valid input again. Rerunning after any interruption skips what
the results file already holds; ``RunOptions(retry_failed=True)`` sends its failures
again, and ``RunOptions(budget_usd=...)`` bounds what the results file may cost in all.
The ``WireTracker`` lets a stop abandon queued lines at once while the requests on the
wire finish. ``run_batch_jsonl`` does the same job through Message Batches.
"""

from __future__ import annotations

from ._batches import run_batch_jsonl as run_batch_jsonl
from ._done import DoneIndex as DoneIndex
from ._input import BadLine as BadLine
from ._input import LineReader as LineReader
from ._input import LineRequest as LineRequest
from ._input import parse_line as parse_line
from ._input import read_items as read_items
from ._log import CorruptFileError as CorruptFileError
from ._log import JsonlLog as JsonlLog
from ._log import repair_tail as repair_tail
from ._options import RunFiles as RunFiles
from ._options import RunOptions as RunOptions
from ._progress import Progress as Progress
from ._progress import RunSummary as RunSummary
from ._progress import Tally as Tally
from ._run import run_jsonl as run_jsonl
from ._settings import RunnerSettings as RunnerSettings
from ._wire import WireTracker as WireTracker

__all__ = [
    "BadLine",
    "CorruptFileError",
    "DoneIndex",
    "JsonlLog",
    "LineReader",
    "LineRequest",
    "Progress",
    "RunFiles",
    "RunOptions",
    "RunSummary",
    "RunnerSettings",
    "Tally",
    "WireTracker",
    "parse_line",
    "read_items",
    "repair_tail",
    "run_batch_jsonl",
    "run_jsonl",
]
