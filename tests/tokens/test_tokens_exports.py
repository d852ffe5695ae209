"""The tokens package's public names."""

from __future__ import annotations

import claudeflow.tokens as tokens

EXPECTED = {
    "CalibrationStats",
    "Calibrator",
    "ModelPrice",
    "OutputReservation",
    "PriceTable",
    "ReservationMode",
    "ServerTokenCounter",
    "TokenEstimator",
    "Usage",
    "body_lower_bound",
    "count_text",
    "encoding_backend",
    "normalize_model_id",
    "text_lower_bound",
}


def test_all_is_sorted_and_complete() -> None:
    assert tokens.__all__ == sorted(tokens.__all__)
    assert set(tokens.__all__) == EXPECTED
    for name in tokens.__all__:
        assert getattr(tokens, name) is not None
