"""The error tree drawn in ``claudeflow._errors``'s docstring is the tree of its classes."""

from __future__ import annotations

import re

import claudeflow
from claudeflow import _errors

# A drawn line: tree characters, a class name, optionally "(ExtraBase, ...)".
_LINE = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w+)(?: \((?P<extra>[\w, ]+)\))?")


def drawn_tree() -> set[tuple[str, str | None, frozenset[str]]]:
    """(class, drawn parent, extra bases) for every line of the docstring's drawing."""
    doc = _errors.__doc__ or ""
    block = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    edges: set[tuple[str, str | None, frozenset[str]]] = set()
    parents: list[str] = []  # the chain of ancestors at the current depth
    for line in block.splitlines():
        match = _LINE.match(line[4:])  # the block is indented by four spaces
        assert match, f"cannot read the drawing's line {line!r}"
        depth = len(match["indent"]) // 4
        del parents[depth:]
        extra = frozenset(e.strip() for e in (match["extra"] or "").split(",") if e.strip())
        edges.add((match["name"], parents[-1] if parents else None, extra))
        parents.append(match["name"])
    return edges


def class_tree() -> set[tuple[str, str | None, frozenset[str]]]:
    """The same triples, from the classes ``claudeflow._errors`` defines."""
    ours = {
        obj
        for obj in vars(_errors).values()
        if isinstance(obj, type) and issubclass(obj, claudeflow.ClaudeflowError)
    }
    edges: set[tuple[str, str | None, frozenset[str]]] = set()
    for cls in ours:
        parent = next((b.__name__ for b in cls.__bases__ if b in ours), None)
        extra = frozenset(b.__name__ for b in cls.__bases__ if b not in ours and b is not Exception)
        edges.add((cls.__name__, parent, extra))
    return edges


def test_the_drawing_is_the_class_tree() -> None:
    drawn, real = drawn_tree(), class_tree()
    assert drawn == real, {"drawn only": drawn - real, "classes only": real - drawn}


def test_the_reader_sees_a_wrong_drawing() -> None:
    # The two places where the drawing once disagreed, drawn the old way.
    wrong = (_errors.__doc__ or "").replace(
        "    │   └── APIConnectionError             connect/reset/protocol failures (``kind``)\n"
        "    │       └── APITimeoutError",
        "    │   ├── APIConnectionError             connect/reset/protocol failures\n"
        "    │   └── APITimeoutError",
    )
    assert wrong != _errors.__doc__
    saved = _errors.__doc__
    try:
        _errors.__doc__ = wrong
        assert drawn_tree() != class_tree()
    finally:
        _errors.__doc__ = saved


def test_every_error_in_the_facade_is_drawn() -> None:
    drawn = {name for name, _, _ in drawn_tree()}
    for name in claudeflow.__all__:
        obj = getattr(claudeflow, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert name in drawn, name


def test_connection_errors_say_what_failed() -> None:
    assert claudeflow.APIConnectionError("x").kind == "other"
    assert claudeflow.APIConnectionError("x", kind="refused").kind == "refused"
    assert claudeflow.APITimeoutError("x").kind == "timeout"
    assert isinstance(claudeflow.APITimeoutError("x"), claudeflow.APIConnectionError)


def test_a_status_error_lower_cases_headers_once_and_finds_the_request_id() -> None:
    error = _errors.status_error(
        429, {"Request-Id": "req_9", "Retry-After": "3"}, b'{"error": {"message": "slow"}}'
    )
    assert error.headers == {"request-id": "req_9", "retry-after": "3"}
    assert error.request_id == "req_9" and isinstance(error, claudeflow.RateLimitError)
    from_body = _errors.status_error(500, {}, b'{"request_id": "req_b", "error": {}}')
    assert from_body.request_id == "req_b"
