"""Comment density of the package: ``#`` comment lines over non-blank code lines.

A comment line is a line holding a ``#`` comment, alone or after code. A code line is a
non-blank line that is neither a docstring nor a comment alone. Docstrings count on
neither side: they document the interface, while this measures how often the code
says *why* it does what it does (docs/style-anchors.md compares the anchor libraries
the same way).

    python benchmarks/comment_density.py                   # per subpackage of claudeflow/
    python benchmarks/comment_density.py claudeflow/limiter claudeflow/retry/_policy.py
    python benchmarks/comment_density.py --files claudeflow/transport   # per file
    python benchmarks/comment_density.py --root /tmp/old/claudeflow     # another checkout
"""

from __future__ import annotations

import argparse
import ast
import io
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "claudeflow"


@dataclass(frozen=True, slots=True)
class Density:
    comments: int = 0
    code: int = 0

    def __add__(self, other: Density) -> Density:
        return Density(self.comments + other.comments, self.code + other.code)

    @property
    def percent(self) -> float:
        return 100.0 * self.comments / self.code if self.code else 0.0


def measure(source: str) -> Density:
    """The density of one module's ``source``."""
    docstrings = set(_docstring_lines(ast.parse(source)))
    commented: set[int] = set()
    with_code: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            commented.add(token.start[0])
        elif token.type not in _NOT_CODE:
            with_code.update(range(token.start[0], token.end[0] + 1))
    code = with_code - docstrings
    return Density(len(commented), len(code))


_NOT_CODE = frozenset(
    {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
)


def _docstring_lines(tree: ast.AST) -> Iterator[int]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        first = node.body[0] if node.body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            if isinstance(first.value.value, str) and first.end_lineno is not None:
                yield from range(first.lineno, first.end_lineno + 1)


def _modules(path: Path) -> list[Path]:
    if path.name == "*.py":  # the package's own top-level modules
        return sorted(path.parent.glob("*.py"))
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _density(path: Path) -> Density:
    return sum((measure(m.read_text(encoding="utf-8")) for m in _modules(path)), Density())


def _targets(root: Path) -> list[Path]:
    subpackages = sorted(p for p in root.iterdir() if (p / "__init__.py").is_file())
    return [root / "*.py", *subpackages]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="folders or modules")
    parser.add_argument("--files", action="store_true", help="one row per module")
    parser.add_argument("--root", type=Path, default=ROOT, help="the package (default: ours)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    shown = root.relative_to(Path.cwd()) if root.is_relative_to(Path.cwd()) else root
    targets: list[Path] = args.paths or _targets(shown)
    if args.files:
        targets = [module for target in targets for module in _modules(target)]
    rows = [(str(target), _density(target)) for target in targets]
    rows.append(("total", sum((density for _, density in rows), Density())))
    width = max(len(name) for name, _ in rows)
    for name, d in rows:
        print(f"{name:<{width}}  {d.comments:>5} / {d.code:>6}  {d.percent:5.1f} %")


if __name__ == "__main__":
    main()
