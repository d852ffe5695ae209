"""Each example runs against the simulator, as a user would start it, and says so."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_basic() -> None:
    done = run(EXAMPLES / "basic.py", "--simulate")
    assert done.returncode == 0, done.stderr
    assert "answer 0: " in done.stdout
    assert "30 requests completed, 0 failed, 0 rate-limited" in done.stdout


def test_models_and_keys_share_the_work_and_drop_the_refused_key() -> None:
    done = run(EXAMPLES / "models_and_keys.py", "--simulate", "-n", "100")
    assert done.returncode == 0, done.stderr
    assert "200 requests over two model classes" in done.stdout
    assert "retired key: {'old': 'HTTP 401 authentication_error'}" in done.stdout
    assert "past the daily quota: refused" in done.stdout
    assert "sk-" not in done.stdout + done.stderr


def test_streaming_chat_keeps_the_conversation() -> None:
    done = run(EXAMPLES / "streaming_chat.py", "--simulate", "Hi there", "And again?")
    assert done.returncode == 0, done.stderr
    turns = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert len(turns) == 2 and all(" out tokens]" in turn for turn in turns)


def test_fastapi_app_demo_answers_every_request() -> None:
    done = run(EXAMPLES / "fastapi_app.py", "--simulate", "--demo", "120")
    assert done.returncode == 0, done.stderr
    statuses = dict(
        item.split("=") for item in done.stdout.split("statuses: ")[1].splitlines()[0].split(", ")
    )
    assert set(statuses) <= {"200", "429", "503"} and sum(map(int, statuses.values())) == 120
    assert "200" in statuses
    assert ", 0 429s" in done.stdout  # the simulator never had to refuse anything


BATCH_COMMAND = (
    "claudeflow run examples/batch_jsonl/requests.jsonl "
    "-o examples/batch_jsonl/out/results.jsonl --simulate"
)


def test_batch_jsonl_command_from_its_readme(tmp_path: Path) -> None:
    # Both READMEs give this command; it writes under examples/batch_jsonl/out/, which
    # git ignores. Run it as given, from the root of a copy of the examples.
    for readme in (EXAMPLES / "README.md", EXAMPLES / "batch_jsonl" / "README.md"):
        assert BATCH_COMMAND in readme.read_text(), readme
    shutil.copytree(EXAMPLES / "batch_jsonl", tmp_path / "examples" / "batch_jsonl")
    for stale in (tmp_path / "examples" / "batch_jsonl" / "out").glob("*.jsonl"):
        stale.unlink()  # left by someone running the example in this checkout
    args = shlex.split(BATCH_COMMAND)[1:]
    done = run("-m", "claudeflow.cli", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    results = tmp_path / "examples" / "batch_jsonl" / "out" / "results.jsonl"
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert sorted(r["custom_id"] for r in lines) == [f"topic-{i:02d}" for i in range(20)]
    assert all(r["status"] == "succeeded" for r in lines)
    assert "succeeded 20" in done.stderr
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "examples/batch_jsonl/out/results.jsonl"],
        cwd=ROOT,
        check=False,
    )
    assert ignored.returncode == 0, "examples/batch_jsonl/out/ must be git-ignored"
