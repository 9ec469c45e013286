"""What every loopback test server shares: a port kept across restarts and the with-statement."""

from __future__ import annotations

from typing import Self


class LoopbackServer:
    """A server on 127.0.0.1; subclasses implement ``start`` and ``stop`` (restartable on one port)."""

    def __init__(self, port: int = 0) -> None:
        self._port = port

    def start(self) -> None:
        """Start listening (on the same port as before when restarted)."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop listening."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port (known once started; kept across restarts)."""
        return self._port
