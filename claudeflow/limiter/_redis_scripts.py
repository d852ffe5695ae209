"""The pool's Lua scripts: loaded once per connection, run by SHA, reloaded on ``NOSCRIPT``.

A script cache can vanish under a client (``SCRIPT FLUSH``, a restart, a fail-over to a
replica that never saw ``SCRIPT LOAD``); the server then answers ``NOSCRIPT`` and the
script is loaded again and run once more. Nothing ran the first time, so the retry cannot
apply anything twice.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

__all__ = ["SCRIPT_NAMES", "Scripts"]

SCRIPT_NAMES = ("reserve", "apply")


def _source(name: str) -> str:
    lua = resources.files(__package__).joinpath("lua")
    # The prelude is pasted in, not loaded apart: Redis scripts cannot call one another.
    return lua.joinpath("common.lua").read_text() + "\n" + lua.joinpath(f"{name}.lua").read_text()


class Scripts:
    """The SHA of each script; :meth:`run` loads any that the server has forgotten."""

    def __init__(self) -> None:
        self._sources = {name: _source(name) for name in SCRIPT_NAMES}
        self._shas: dict[str, str] = {}
        #: how many times the scripts were (re)loaded: 1 + the ``NOSCRIPT`` recoveries
        self.loads = 0

    async def load(self, client: Redis) -> None:
        for name, source in self._sources.items():
            self._shas[name] = str(await client.script_load(source))
        self.loads += 1

    async def run(self, client: Redis, name: str, keys: list[str], args: list[str]) -> Any:
        # A first run on a new connection loads the scripts itself.
        if name not in self._shas:
            await self.load(client)
        try:
            return await client.evalsha(self._shas[name], len(keys), *keys, *args)
        # Nothing ran when NOSCRIPT came back, so running again cannot apply anything twice.
        except NoScriptError:
            await self.load(client)
            return await client.evalsha(self._shas[name], len(keys), *keys, *args)
