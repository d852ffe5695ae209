"""The built wheel holds every module of the source tree, and each imports from the wheel alone.

The editable install puts the checkout on ``sys.path``, so a module left out of the wheel would
still import in every other test. This one builds the wheel, unpacks it, and imports each module
in a child interpreter that sees the unpacked wheel and the installed dependencies, not the
checkout.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "claudeflow"


def _source_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] != "__main__":
            names.append(".".join(parts))
    return names


def test_every_module_imports_from_the_built_wheel(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "--disable-pip-version-check", "-w", str(dist), str(ROOT)],
        check=True,
    )  # fmt: skip
    (wheel,) = dist.glob("claudeflow-*.whl")
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    modules = _source_modules()
    assert len(modules) > 50
    script = (
        "import importlib, sys\n"
        f"root = {str(unpacked)!r}\n"
        "for name in sys.argv[1:]:\n"
        "    module = importlib.import_module(name)\n"
        "    assert module.__file__.startswith(root), (name, module.__file__)\n"
    )
    # -S skips site, so the editable install's .pth (which adds the checkout) is not read;
    # the dependencies come from the site-packages directories named explicitly.
    path = os.pathsep.join([str(unpacked), *site.getsitepackages()])
    subprocess.run(
        [sys.executable, "-S", "-c", script, *modules],
        check=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": path},
    )
