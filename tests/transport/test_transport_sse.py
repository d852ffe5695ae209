"""SseParser: framing, tolerance, and chunk boundaries anywhere."""

from __future__ import annotations

import pytest

from claudeflow.transport import SseEvent, SseParser
from claudeflow.transport._sse import encode_event

# A realistic Anthropic stream with multi-byte text (é is 2 bytes, 🌍 is 4 bytes).
STREAM = (
    "event: message_start\n"
    'data: {"type":"message_start","message":{"id":"msg_1"}}\n'
    "\n"
    "event: ping\n"
    'data: {"type": "ping"}\n'
    "\n"
    "event: content_block_delta\n"
    'data: {"type":"content_block_delta","delta":{"text":"h\u00e9llo \U0001f30d"}}\n'
    "\n"
    "event: message_stop\n"
    'data: {"type":"message_stop"}\n'
    "\n"
)
EXPECTED = [
    SseEvent("message_start", '{"type":"message_start","message":{"id":"msg_1"}}'),
    SseEvent("ping", '{"type": "ping"}'),
    SseEvent(
        "content_block_delta",
        '{"type":"content_block_delta","delta":{"text":"h\u00e9llo \U0001f30d"}}',
    ),
    SseEvent("message_stop", '{"type":"message_stop"}'),
]


def parse_all(*chunks: bytes) -> list[SseEvent]:
    parser = SseParser()
    events: list[SseEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.close())
    return events


@pytest.mark.parametrize(
    "newline",
    [pytest.param("\n", id="lf"), pytest.param("\r\n", id="crlf"), pytest.param("\r", id="cr")],
)
def test_every_line_ending_gives_the_same_events(newline: str) -> None:
    data = STREAM.replace("\n", newline).encode()
    assert parse_all(data) == EXPECTED


@pytest.mark.parametrize(
    "newline",
    [pytest.param("\n", id="lf"), pytest.param("\r\n", id="crlf"), pytest.param("\r", id="cr")],
)
def test_a_split_at_every_byte_position_gives_the_same_events(newline: str) -> None:
    data = STREAM.replace("\n", newline).encode()
    for cut in range(len(data) + 1):
        assert parse_all(data[:cut], data[cut:]) == EXPECTED, f"split at byte {cut}"


@pytest.mark.parametrize(
    "newline",
    [pytest.param("\n", id="lf"), pytest.param("\r\n", id="crlf"), pytest.param("\r", id="cr")],
)
def test_one_byte_at_a_time_gives_the_same_events(newline: str) -> None:
    data = STREAM.replace("\n", newline).encode()
    assert parse_all(*(data[i : i + 1] for i in range(len(data)))) == EXPECTED


def test_events_are_returned_as_soon_as_their_blank_line_arrives() -> None:
    parser = SseParser()
    assert parser.feed(b"event: ping\ndata: {}\n") == []
    assert parser.feed(b"\n") == [SseEvent("ping", "{}")]
    assert parser.close() == []


def test_a_crlf_split_between_chunks_is_one_line_end_not_two() -> None:
    parser = SseParser()
    assert parser.feed(b"data: a\r") == []
    # Were the LF a second line end, "a" would be dispatched here as its own event.
    assert parser.feed(b"\ndata: b\r") == []
    assert parser.feed(b"\n\r\n") == [SseEvent("message", "a\nb")]


def test_a_chunk_holding_only_part_of_a_utf8_sequence_keeps_a_pending_crlf() -> None:
    parser = SseParser()
    euro = "\u20ac".encode()  # 3 bytes
    assert parser.feed(b"data: x\r") == []
    assert parser.feed(b"") == []
    assert parser.feed(b"\ndata: " + euro[:1]) == []
    assert parser.feed(euro[1:] + b"\n\n") == [SseEvent("message", "x\n\u20ac")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("data: a\ndata: b\n\n", [SseEvent("message", "a\nb")], id="multi-line-data"),
        pytest.param("data: {}\n\n", [SseEvent("message", "{}")], id="missing-event-is-message"),
        pytest.param(": keep-alive\n\n", [], id="comment-only"),
        pytest.param(
            ": hi\nevent: ping\n: there\ndata: x\n\n", [SseEvent("ping", "x")], id="comments-inside"
        ),
        pytest.param(
            'event: ping   \ndata: {"a": 1}   \n\n',
            [SseEvent("ping", '{"a": 1}   ')],
            id="trailing-spaces",
        ),
        pytest.param("data:x\n\n", [SseEvent("message", "x")], id="no-space-after-colon"),
        pytest.param("data:  x\n\n", [SseEvent("message", " x")], id="only-one-space-stripped"),
        pytest.param("data\n\n", [SseEvent("message", "")], id="field-without-colon"),
        pytest.param("event: ping\n\n", [SseEvent("ping", "")], id="event-without-data"),
        pytest.param(
            "id: 7\nretry: 1500\nevent: e\ndata: d\n\n",
            [SseEvent("e", "d", {"id": "7", "retry": "1500"})],
            id="id-and-retry-in-extra",
        ),
        pytest.param("id: 7\n\n", [], id="id-alone-is-no-event"),
        pytest.param("foo: bar\ndata: d\n\n", [SseEvent("message", "d")], id="unknown-field"),
        pytest.param(
            "data: a\n\n\n\ndata: b\n\n",
            [SseEvent("message", "a"), SseEvent("message", "b")],
            id="extra-blank-lines",
        ),
        pytest.param("\ufeffdata: a\n\n", [SseEvent("message", "a")], id="bom"),
        pytest.param("data: a:b: c\n\n", [SseEvent("message", "a:b: c")], id="colons-in-value"),
        pytest.param(
            "event: x\ndata: 1\n\nevent: y\ndata: 2\n\n",
            [SseEvent("x", "1"), SseEvent("y", "2")],
            id="event-name-does-not-leak",
        ),
    ],
)
def test_field_rules(text: str, expected: list[SseEvent]) -> None:
    assert parse_all(text.encode()) == expected


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        pytest.param(b"event: error\ndata: {}", [SseEvent("error", "{}")], id="no-final-newline"),
        pytest.param(b"event: error\ndata: {}\n", [SseEvent("error", "{}")], id="no-blank-line"),
        pytest.param(b"data: a\r", [SseEvent("message", "a")], id="trailing-cr"),
        pytest.param(b"", [], id="empty-stream"),
    ],
)
def test_close_delivers_an_unterminated_last_event(tail: bytes, expected: list[SseEvent]) -> None:
    parser = SseParser()
    assert parser.feed(tail) == []
    assert parser.close() == expected


def test_invalid_utf8_becomes_a_replacement_character_not_an_error() -> None:
    assert parse_all(b"data: \xff\xfe\n\n") == [SseEvent("message", "\ufffd\ufffd")]


def test_a_truncated_utf8_sequence_at_close_is_replaced() -> None:
    assert parse_all(b"data: ok", "\u20ac".encode()[:2]) == [SseEvent("message", "ok\ufffd")]


def test_json_helper_parses_the_data() -> None:
    (event,) = parse_all(b'event: message_stop\ndata: {"type": "message_stop"}\n\n')
    assert event.json() == {"type": "message_stop"}


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(SseEvent("ping", "{}"), id="simple"),
        pytest.param(SseEvent("message", "a\nb"), id="multi-line"),
        pytest.param(SseEvent("e", "d", {"id": "1"}), id="with-id"),
    ],
)
def test_encode_event_round_trips(event: SseEvent) -> None:
    assert parse_all(encode_event(event)) == [event]


def test_repr_shows_buffer_state_only() -> None:
    parser = SseParser()
    parser.feed(b"data: secret-ish\ndata: partial")
    assert repr(parser) == "SseParser(buffered=13, pending_lines=1)"
