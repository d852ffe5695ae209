"""Who is calling: gateway keys (stored as sha256 hashes) mapped to clients and quotas."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .._clock import Clock
from .._errors import RequestRejected
from ._config import ClientConfig, GatewayConfig, hash_key
from ._quota import ClientQuota

__all__ = ["Clients", "ModelNotAllowed", "NotAuthenticated", "UnknownModel", "presented_key"]


class NotAuthenticated(RequestRejected):
    """No gateway key, or one the config does not know (HTTP 401)."""


class ModelNotAllowed(RequestRejected):
    """The client's key may not use the requested model (HTTP 403)."""


class UnknownModel(RequestRejected):
    """``GET /v1/models/{id}`` for a model this gateway does not list (HTTP 404)."""


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from ``x-api-key``, else from ``Authorization: Bearer`` (as the API does)."""
    key = headers.get("x-api-key")
    if not key:
        bearer = headers.get("authorization", "")
        # The scheme is case-insensitive (RFC 9110); OpenAI SDKs send their key this way.
        if bearer[:7].lower() == "bearer ":
            key = bearer[7:].strip()
    return key or None


class Clients:
    """The configured clients and their quota state; :meth:`reload` keeps unchanged ones."""

    def __init__(self, config: GatewayConfig, clock: Clock) -> None:
        self._clock = clock
        self._quotas: dict[str, ClientQuota] = {}
        self.reload(config)

    def reload(self, config: GatewayConfig) -> None:
        """Swap in a new client list; a client whose entry is unchanged keeps its usage."""
        old = self._quotas
        self._quotas = {
            # Kept only if the client's entry is unchanged: new limits start a fresh quota.
            client.key_sha256: _kept(old.get(client.key_sha256), client)
            or ClientQuota(client, self._clock)
            for client in config.clients
        }

    def __iter__(self) -> Iterator[ClientQuota]:
        return iter(self._quotas.values())

    def authenticate(self, headers: Mapping[str, str]) -> ClientQuota:
        key = presented_key(headers)
        if key is None:
            raise NotAuthenticated("x-api-key header is required")
        # A lookup by digest: what timing could reveal is the hash, never the key.
        quota = self._quotas.get(hash_key(key))
        if quota is None:
            # The same answer for every unknown key: nothing tells a guesser it came close.
            raise NotAuthenticated("invalid x-api-key")
        return quota


def _kept(quota: ClientQuota | None, client: ClientConfig) -> ClientQuota | None:
    return quota if quota is not None and quota.client == client else None
