"""Whether the run can read its input and write its outputs, checked before anything is sent.

A problem found here is a usage error (exit 2) named after its flag, rather than a
traceback once the first result is written.
"""

from __future__ import annotations

import os
from pathlib import Path

from ._input import STDIN
from ._options import RunFiles

__all__ = ["dead_path", "path_problem", "writable_problem"]


def path_problem(files: RunFiles, *, dead_given: bool) -> str:
    """What keeps the run from reading its input or writing its outputs ("" if nothing)."""
    if files.input != STDIN:
        if not files.input.is_file():
            what = "is a directory" if files.input.is_dir() else "not found"
            return f"input file {what}: {files.input}"
        if not os.access(files.input, os.R_OK):
            return f"input file not readable: {files.input}"
    outputs = (("-o/--output", files.output), ("--dead-letter", files.dead_letter))
    for flag, path in outputs:
        if flag == "--dead-letter" and not dead_given:
            flag = "dead-letter file (from -o/--output)"
        problem = writable_problem(path)
        if problem:
            return f"{flag}: {problem}"
    return ""


def writable_problem(path: Path) -> str:
    """Why ``path`` cannot be written ("" if it can)."""
    if path.is_dir():
        return f"{path} is a directory; give a file name"
    if path.exists():
        return "" if os.access(path, os.W_OK) else f"{path} is not writable"
    # Missing directories are created on the first write: the nearest one that exists
    # must let us create them (or the file).
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot create files in {parent}"
    return ""


def dead_path(output: Path) -> Path:
    """The default dead-letter file of ``output``: ``results.jsonl`` -> ``results.dead.jsonl``."""
    return output.with_name(f"{output.stem}.dead{output.suffix or '.jsonl'}")
