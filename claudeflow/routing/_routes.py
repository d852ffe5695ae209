"""Which model serves a request: aliases, task rules, weighted splits and fallback chains.

>>> routes = Routes(
...     aliases={"fast": "claude-haiku-4-5", "smart": "claude-sonnet-4-5"},
...     rules={"summarize": "fast"},
...     splits={"ab": {"claude-haiku-4-5": 0.5, "claude-sonnet-4-5": 0.5}},
...     fallbacks={"claude-sonnet-4-5": ["claude-haiku-4-5"]},
... )
>>> Router(routes).resolve("fast", task=None, draw=lambda: 0.3)
('claude-haiku-4-5', None)

A request names a model, an alias, or a split (``model="ab"``), or gives a ``task`` label
that a rule maps to one of those. A split draws one arm per request by weight and
``stats().arms`` compares them. A fallback chain moves a request to the next model (same
parameters; ``max_tokens`` capped at that model's maximum output when it is lower) when
the model keeps answering 529 after the retries, when the request could not start within
its queue timeout, or when the API says the model does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from .._errors import ConfigError, InvalidRequestError
from ..limiter import model_class

__all__ = ["ArmStatistics", "Router", "Routes", "max_output_tokens"]


def max_output_tokens(model: str) -> int | None:
    """The model's largest ``max_tokens`` (api doc §9), if known: 128K for the 5.x models,
    64K for the 4.x ones but Opus 4 and 4.1 (32K)."""
    family = model_class(model)
    major = family.rsplit("-", 1)[-1]
    if not major.isdigit():
        return None
    if int(major) >= 5:
        return 128_000
    if int(major) == 4:
        # Opus 4.5+ share the class of Opus 4 and 4.1 but not their smaller output limit.
        old_opus = family == "claude-opus-4" and not any(
            v in model for v in ("4-5", "4-6", "4-7", "4-8")
        )
        return 32_000 if old_opus else 64_000
    return None


@dataclass(frozen=True, slots=True)
class Routes:
    """Routing configuration (all parts optional)."""

    aliases: Mapping[str, str] = field(default_factory=dict)
    rules: Mapping[str, str] = field(default_factory=dict)
    splits: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    fallbacks: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_names("aliases", self.aliases)
        _check_names("rules", self.rules)
        for name, arms in _items("splits", self.splits):
            if not isinstance(arms, Mapping) or not arms:
                raise ConfigError("splits", f"{name!r} must map models to weights")
            for model, weight in arms.items():
                if not isinstance(model, str) or isinstance(weight, bool):
                    raise ConfigError("splits", f"{name!r}: {model!r} needs a number weight")
                if not isinstance(weight, int | float) or not weight > 0:
                    raise ConfigError("splits", f"{name!r}: weight of {model!r} must be > 0")
        for model, chain in _items("fallbacks", self.fallbacks):
            if not isinstance(chain, Sequence) or isinstance(chain, str):
                raise ConfigError("fallbacks", f"{model!r} must map to a list of model ids")
            if not all(isinstance(m, str) and m for m in chain):
                raise ConfigError("fallbacks", f"{model!r} must map to a list of model ids")
        for name in ("aliases", "rules", "splits", "fallbacks"):
            # Copied, read-only: a caller's dict changed later must not reroute a running Flow.
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))


@dataclass(frozen=True, slots=True)
class ArmStatistics:
    """One arm of a split: what its requests did."""

    requests: int = 0
    failed: int = 0
    latency_s: float = 0.0  # total; divide by requests for the mean
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class Router:
    """Resolves names to models and walks fallback chains."""

    __slots__ = ("_chains", "_routes")

    def __init__(self, routes: Routes | None) -> None:
        self._routes = routes or Routes()
        # Chains may be keyed and listed by alias; both resolve to model ids here.
        self._chains = {
            self._alias(model): tuple(self._alias(m) for m in chain)
            for model, chain in self._routes.fallbacks.items()
        }

    def resolve(
        self, model: object, *, task: object, draw: Callable[[], float]
    ) -> tuple[object, str | None]:
        """The model to send, and the split it was drawn from (if any).

        A ``model`` that is not a str is returned as it is, for request validation to name.
        """
        name = model
        if task is not None:
            ruled = self._routes.rules.get(task) if isinstance(task, str) else None
            if ruled is None:
                raise InvalidRequestError(f"task: no rule for task {task!r}")
            # An explicit model wins over the task's rule; the task must still have one.
            name = name or ruled
        if not isinstance(name, str):
            # Not a str: returned as is, so request validation names the bad ``model``.
            return name, None
        split = self._routes.splits.get(name)
        if split is not None:
            # One draw per request (the caller's seeded RNG), so a run's arms replay exactly.
            return self._alias(_pick(split, draw())), name
        return self._alias(name), None

    def chain(self, model: str) -> tuple[str, ...]:
        """The models to try after ``model``, in order (aliases resolved)."""
        return self._chains.get(model, ())

    def _alias(self, name: str) -> str:
        return self._routes.aliases.get(name, name)


def _pick(arms: Mapping[str, float], draw: float) -> str:
    total = sum(arms.values())
    point = draw * total
    for model, weight in arms.items():
        point -= weight
        if point < 0:
            return model
    return list(arms)[-1]  # rounding left a sliver: the last arm


def _items(argument: str, value: object) -> list[tuple[str, object]]:
    if not isinstance(value, Mapping):
        raise ConfigError(argument, f"must be a mapping, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str) or not key:
            raise ConfigError(argument, f"keys must be non-empty str, got {key!r}")
    return list(value.items())


def _check_names(argument: str, value: object) -> None:
    for key, target in _items(argument, value):
        if not isinstance(target, str) or not target:
            raise ConfigError(argument, f"{key!r} must map to a non-empty str")
