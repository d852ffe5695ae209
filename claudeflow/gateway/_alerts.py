"""Alerts: a day's budget crossing its thresholds, and upstream 429/529s piling up.

Each alert is a WARNING log line and, when a webhook is configured, a JSON POST with a
bounded timeout. A webhook that fails is logged and forgotten: alerting must never
break serving. A budget threshold fires once per scope and day; the upstream-error
alert fires when the count over the last minute crosses the limit, and again only
after it has dropped back below.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any

import aiohttp

from .._clock import wall_time
from ._config import AlertConfig
from ._quota import utc_day

__all__ = ["Alerts"]

logger = logging.getLogger("claudeflow.gateway.alerts")

_WINDOW_S = 60.0


class Alerts:
    """Decides when to alert and delivers alerts; :meth:`aclose` waits for webhooks."""

    def __init__(self, config: AlertConfig) -> None:
        self.config = config
        self.sent: list[dict[str, Any]] = []
        self._fired: set[tuple[str, float, int]] = set()
        self._errors: deque[tuple[float, int]] = deque()
        self._raised = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def reconfigure(self, config: AlertConfig) -> None:
        self.config = config

    def check_budget(self, scope: str, spent: float, budget: float | None) -> None:
        """Alert once per day for each threshold ``spent / budget`` has reached."""
        if not budget:
            return
        day = utc_day()
        for fraction in self.config.budget_thresholds:
            # The day is in the key: tomorrow the same threshold may fire again.
            key = (scope, fraction, day)
            if spent >= budget * fraction and key not in self._fired:
                self._fired.add(key)
                self.emit(
                    "budget",
                    f"{scope} has spent {spent / budget:.0%} of its ${budget:g} daily budget",
                    scope=scope,
                    threshold=fraction,
                    spent_usd=round(spent, 6),
                    budget_usd=budget,
                )

    def check_upstream(self, now: float, errors_total: int) -> None:
        """Feed the running total of upstream 429+529s; alert when the last minute's rise."""
        # Running totals, not events: the rise over the window is one subtraction.
        self._errors.append((now, errors_total))
        while self._errors and self._errors[0][0] < now - _WINDOW_S:
            self._errors.popleft()
        recent = errors_total - self._errors[0][1]
        limit = self.config.upstream_errors_per_min
        if recent >= limit and not self._raised:
            self._raised = True
            self.emit(
                "upstream_errors",
                f"{recent} upstream 429/529 answers in the last minute (limit {limit:g})",
                count=recent,
                limit=limit,
            )
        # Re-armed only below the limit: a count hovering at it alerts once, not every tick.
        elif recent < limit:
            self._raised = False

    def emit(self, kind: str, message: str, **fields: Any) -> None:
        alert = {"alert": kind, "message": message, "time": wall_time(), **fields}
        self.sent.append(alert)
        del self.sent[:-100]  # a short history for the dashboard; the log has the rest
        logger.warning("ALERT %s", json.dumps(alert, sort_keys=True))
        if self.config.webhook_url:
            task = asyncio.get_running_loop().create_task(self._post(alert))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, alert: dict[str, Any]) -> None:
        url = self.config.webhook_url
        assert url is not None
        if self._session is None:
            # Made on the first alert, inside the loop: most gateways never send one.
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self.config.webhook_timeout_s)
        try:
            async with self._session.post(url, json=alert, timeout=timeout) as response:
                if response.status >= 300:
                    logger.warning("alert webhook answered HTTP %d", response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The type only: the webhook URL may carry a token, and error texts quote URLs.
            logger.warning("alert webhook failed: %s", type(exc).__name__)

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
