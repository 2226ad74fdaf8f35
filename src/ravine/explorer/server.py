"""How ``ravine serve`` runs the explorer under uvicorn: :func:`uvicorn_options` and the HTTP
protocol with a read deadline, :class:`DeadlineH11Protocol`.

uvicorn closes a keep-alive connection that stays silent after an answer
(``timeout_keep_alive``), but any byte restarts its wait, and a connection that never finishes
its first request is never timed out: a client sending a byte a second holds a connection
forever. Here every request has a deadline: from the moment the server waits for it (the
connection opened, or the previous answer sent) the whole request, head and body, must have
arrived within ``LIMITS["read_seconds"]``; otherwise the connection is closed. A client that
stops reading an answer (the send buffer full) is cut off after as long. The numbers are
in :data:`ravine.explorer.schemas.LIMITS` (``read_seconds``, ``keep_alive_seconds``,
``max_connections``), their one home.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .schemas import LIMITS

__all__ = ["DeadlineH11Protocol", "uvicorn_options"]

#: h11's states of the client while the server waits for (the rest of) a request
_WAITING = (h11.IDLE, h11.SEND_BODY)


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on reading each request (``read_seconds``)."""

    _deadline: asyncio.TimerHandle | None = None  # reading a request
    _stall: asyncio.TimerHandle | None = None  # writing an answer the client does not read

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc) -> None:
        self._stop()
        if self._stall is not None:
            self._stall.cancel()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        """The client stopped reading the answer: it has ``read_seconds`` to read again."""
        super().pause_writing()
        if self._stall is None:
            self._stall = self.loop.call_later(LIMITS["read_seconds"], self.transport.abort)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _watch(self) -> None:
        """Start the deadline when the server begins waiting for a request; stop it once the
        request is complete. Bytes arriving in between do not move it."""
        waiting = self.conn.their_state in _WAITING and not self.transport.is_closing()
        if waiting and self._deadline is None:
            self._deadline = self.loop.call_later(LIMITS["read_seconds"], self._expired)
        elif not waiting:
            self._stop()

    def _stop(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()  # a request in the app reads http.disconnect


def uvicorn_options() -> dict:
    """The keyword arguments of ``uvicorn.Config`` / ``uvicorn.run`` that bound connections:
    the protocol above, the keep-alive time, the connections at once (``limit_concurrency``:
    beyond it uvicorn answers 503 at once), no WebSocket upgrade (the explorer has none)."""
    return {
        "http": DeadlineH11Protocol,
        "ws": "none",
        "timeout_keep_alive": LIMITS["keep_alive_seconds"],
        "limit_concurrency": LIMITS["max_connections"],
    }
