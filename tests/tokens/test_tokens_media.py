"""Image dimensions and token prices of images and PDFs."""

from __future__ import annotations

import pytest
from tokens_samples import b64, gif, jpeg, pdf, png, webp_vp8, webp_vp8l, webp_vp8x

from claudeflow.tokens._media import (
    IMAGE_UNKNOWN_TOKENS,
    PDF_PAGE_TOKENS,
    image_dimensions,
    image_tokens,
    image_tokens_from_base64,
    pdf_tokens_from_base64,
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(png(200, 100), (200, 100), id="png"),
        pytest.param(gif(320, 240), (320, 240), id="gif"),
        pytest.param(jpeg(640, 480), (640, 480), id="jpeg"),
        pytest.param(jpeg(800, 600, exif_bytes=60_000), (800, 600), id="jpeg-after-big-exif"),
        pytest.param(webp_vp8x(1000, 500), (1000, 500), id="webp-vp8x"),
        pytest.param(webp_vp8l(300, 200), (300, 200), id="webp-vp8l"),
        pytest.param(webp_vp8(64, 48), (64, 48), id="webp-vp8"),
        pytest.param(b"", None, id="empty"),
        pytest.param(b"not an image at all", None, id="garbage"),
        pytest.param(png(200, 100)[:20], None, id="truncated-png"),
        pytest.param(jpeg(640, 480)[:20], None, id="truncated-jpeg"),
        pytest.param(b"\xff\xd8\x00\x00\x00\x00", None, id="broken-jpeg-marker"),
        pytest.param(png(0, 100), None, id="zero-width"),
    ],
)
def test_image_dimensions(data: bytes, expected: tuple[int, int] | None) -> None:
    assert image_dimensions(data) == expected


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        pytest.param(200, 100, 27, id="small"),  # 20,000 / 750 = 26.7
        pytest.param(750, 1, 1, id="one-token"),
        pytest.param(1, 1, 1, id="tiny-is-at-least-one"),
        pytest.param(1092, 1092, 1590, id="about-1.15-megapixels"),  # 1589.9
        pytest.param(1568, 500, 1046, id="long-edge-at-limit"),  # 784,000 / 750 = 1045.3
        pytest.param(3136, 1000, 1046, id="long-edge-scaled-to-1568"),  # -> 1568 x 500
        pytest.param(4000, 4000, 1600, id="capped"),
    ],
)
def test_image_tokens(width: int, height: int, expected: int) -> None:
    assert image_tokens(width, height) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b64(png(200, 100)), 27, id="png"),
        pytest.param(b64(jpeg(1568, 500, exif_bytes=60_000)), 1046, id="jpeg-big-exif"),
        pytest.param("".join(b64(png(200, 100)).partition("A")), 27, id="same-bytes"),
        pytest.param("!!!not base64!!!", IMAGE_UNKNOWN_TOKENS, id="garbage"),
        pytest.param("", IMAGE_UNKNOWN_TOKENS, id="empty"),
        pytest.param(b64(b"BM" + b"\x00" * 60), IMAGE_UNKNOWN_TOKENS, id="unknown-format"),
    ],
)
def test_image_tokens_from_base64(data: str, expected: int) -> None:
    assert image_tokens_from_base64(data) == expected


def test_base64_with_line_breaks() -> None:
    text = b64(png(200, 100))
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    assert image_tokens_from_base64(wrapped) == 27


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b64(pdf(1)), PDF_PAGE_TOKENS, id="one-page"),
        pytest.param(b64(pdf(3)), 3 * PDF_PAGE_TOKENS, id="three-pages-not-the-pages-node"),
        pytest.param(b64(b"%PDF-1.7 compressed" + b"\x00" * 120_000), 3 * PDF_PAGE_TOKENS,
                     id="no-visible-pages-by-size"),
        pytest.param("@@@", PDF_PAGE_TOKENS, id="garbage-is-one-page"),
    ],
)  # fmt: skip
def test_pdf_tokens(data: str, expected: int) -> None:
    assert pdf_tokens_from_base64(data) == expected
