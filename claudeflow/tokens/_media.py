"""Token prices of images and PDFs, read from the bytes the request carries.

Images: the vision docs give ``tokens ~= width * height / 750``; an image whose long edge
exceeds 1568 px, or that would cost more than ~1,600 tokens, is first scaled down keeping
its aspect ratio. We read width and height from the file header (PNG, GIF, WebP, JPEG);
when we cannot (URL or file sources, unknown formats) we charge the ~1,600-token ceiling.
Claude 4.7+ models accept larger images (up to 2576 px); calibration absorbs that.

PDFs: the PDF docs give 1,500-3,000 text tokens per page plus each page's image. Pages
are counted from ``/Type /Page`` objects; counting the base64 text instead would charge
millions of tokens for a 5 MB file and make a valid request look like it can never fit.
"""

from __future__ import annotations

import binascii
import math
import re
import struct

from ._numbers import ceil_tokens

__all__ = [
    "IMAGE_HEADER_CHARS",
    "IMAGE_MAX_TOKENS",
    "IMAGE_UNKNOWN_TOKENS",
    "PDF_PAGE_TOKENS",
    "image_dimensions",
    "image_tokens",
    "image_tokens_from_base64",
    "pdf_tokens_from_base64",
]

IMAGE_MAX_EDGE = 1568
IMAGE_MAX_TOKENS = 1600
IMAGE_PIXELS_PER_TOKEN = 750
IMAGE_UNKNOWN_TOKENS = IMAGE_MAX_TOKENS
PDF_PAGE_TOKENS = 3000
# Used only when no page object is visible (e.g. pages inside compressed object streams).
_PDF_BYTES_PER_PAGE_GUESS = 50_000
# JPEG puts its size after EXIF/ICC segments (each up to 64 KiB), so read well past them;
# decoding 256 KiB of base64 takes well under a millisecond.
IMAGE_HEADER_CHARS = 256 * 1024

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
# JPEG start-of-frame markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone, without a length field.
_JPEG_BARE = frozenset({0x01, *range(0xD0, 0xDA)})


def image_tokens(width: int, height: int) -> int:
    """Tokens of a ``width`` x ``height`` image after the API's downscaling."""
    long_edge = max(width, height)
    scale = min(1.0, IMAGE_MAX_EDGE / long_edge) if long_edge > 0 else 1.0
    pixels = (width * scale) * (height * scale)
    return min(IMAGE_MAX_TOKENS, max(1, ceil_tokens(pixels / IMAGE_PIXELS_PER_TOKEN)))


def image_tokens_from_base64(data: str) -> int:
    """Tokens of a base64 image; the ~1,600 ceiling when its size cannot be read."""
    size = image_dimensions(_decode_prefix(data, IMAGE_HEADER_CHARS))
    return IMAGE_UNKNOWN_TOKENS if size is None else image_tokens(*size)


def pdf_tokens_from_base64(data: str) -> int:
    """Tokens of a base64 PDF: pages x :data:`PDF_PAGE_TOKENS`."""
    raw = _decode_prefix(data, len(data))
    pages = len(_PDF_PAGE.findall(raw))
    if pages == 0:
        pages = max(1, math.ceil(len(raw) / _PDF_BYTES_PER_PAGE_GUESS))
    return pages * PDF_PAGE_TOKENS


def image_dimensions(head: bytes) -> tuple[int, int] | None:
    """(width, height) from the first bytes of a PNG, GIF, WebP or JPEG file, else None."""
    try:
        size = _png(head) or _gif(head) or _webp(head) or _jpeg(head)
    except (struct.error, IndexError):  # truncated header
        return None
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return size


def _decode_prefix(data: str, chars: int) -> bytes:
    text = "".join(data[:chars].split())
    text = text[: len(text) // 4 * 4]  # a prefix may cut a 4-char group in half
    try:
        return binascii.a2b_base64(text)
    except (binascii.Error, ValueError):
        return b""


def _png(head: bytes) -> tuple[int, int] | None:
    if not head.startswith(_PNG_MAGIC) or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def _gif(head: bytes) -> tuple[int, int] | None:
    if head[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    width, height = struct.unpack("<HH", head[6:10])
    return width, height


def _webp(head: bytes) -> tuple[int, int] | None:
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    chunk = head[12:16]
    if chunk == b"VP8X":  # extended: 24-bit (size - 1) fields
        width = 1 + int.from_bytes(head[24:27], "little")
        return width, 1 + int.from_bytes(head[27:30], "little")
    if chunk == b"VP8L" and head[20] == 0x2F:  # lossless: two 14-bit (size - 1) fields
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":  # lossy key frame
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


def _jpeg(head: bytes) -> tuple[int, int] | None:
    if head[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
        elif marker in _JPEG_BARE:
            i += 2
        elif marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", head[i + 5 : i + 9])
            return width, height
        else:
            i += 2 + struct.unpack(">H", head[i + 2 : i + 4])[0]
    return None
