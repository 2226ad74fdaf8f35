"""The explorer's edges: the Host header parsed strictly as host[:port], and idle or slow
connections closed by a real ``ravine serve`` within the read deadline while normal requests
keep being answered."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the explorer needs ravine[serve]")
pytest.importorskip("uvicorn", reason="the explorer needs ravine[serve]")

from ravine.explorer.app import allowed_name, host_name
from ravine.explorer.schemas import LIMITS
from support.serve import HOST

GOOD_HOSTS = {
    "localhost": "localhost",
    "LocalHost:8000": "localhost",
    "127.0.0.1:1": "127.0.0.1",
    "127.0.0.1:65535": "127.0.0.1",
    "[::1]": "::1",
    "[::1]:8000": "::1",
    "[0:0:0:0:0:0:0:1]:80": "::1",
    "explorer.lan": "explorer.lan",
}
BAD_HOSTS = [
    "localhost:80@evil.com",  # userinfo after the port
    "user@localhost",
    "user:pw@localhost:8000",
    "localhost:abc",
    "localhost:",
    "localhost:0",
    "localhost:65536",
    "localhost:8000:8000",
    "localhost/evil",
    "localhost:8000/x",
    "localhost?x",
    "localhost#x",
    "local host",
    " localhost",
    "::1",  # an IPv6 literal without brackets
    "[::1",
    "[localhost]",
    "[::1]x",
    "",
    "-localhost",
    "localhost\\evil.com",
]
#: well-formed, but not a name this server answers to
FOREIGN_HOSTS = ["evil.com", "evil.com:8000", "127.0.0.1.attacker.example", "[::2]:8000"]


def test_host_name_takes_host_and_port_only():
    for value, name in GOOD_HOSTS.items():
        assert host_name(value) == name, value
    for value in BAD_HOSTS:
        assert host_name(value) is None, value
    assert allowed_name("::1") == allowed_name("[::1]") == "::1"
    with pytest.raises(ValueError, match="allowed_hosts"):
        allowed_name("a b")


def _raw(port: int, head: bytes, timeout: float = 20.0) -> bytes:
    """Send ``head`` on a new connection; everything the server answers until it closes."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(head)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def _get(port: int, host: bytes) -> bytes:
    return _raw(port, b"GET /api/health HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")


def test_host_forms_over_a_real_server(server):
    for value in ["localhost", f"127.0.0.1:{server.port}", f"[::1]:{server.port}"]:
        assert _get(server.port, value.encode()).startswith(b"HTTP/1.1 200"), value
    for value in [v for v in BAD_HOSTS if v and v == v.strip()] + FOREIGN_HOSTS:  # h11 strips spaces around
        answer = _get(server.port, value.encode())
        assert answer.startswith(b"HTTP/1.1 400"), (value, answer[:200])
        assert b"Host" in answer or b"Invalid HTTP request" in answer, (value, answer[-200:])
    # two Host headers, or none
    two = b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nHost: evil.com\r\nConnection: close\r\n\r\n"
    assert _raw(server.port, two).startswith(b"HTTP/1.1 400")
    none = b"GET /api/health HTTP/1.0\r\n\r\n"
    assert _raw(server.port, none).startswith(b"HTTP/1.1 400")


def _closed_after(sock: socket.socket, trickle: bytes | None, limit: float) -> float | None:
    """Seconds until the server closed ``sock`` (None: still open after ``limit``); with
    ``trickle``, one byte of it every 0.5 s meanwhile (slowloris)."""
    t0 = time.monotonic()
    sock.settimeout(0.5)
    i = 0
    while time.monotonic() - t0 < limit:
        try:
            if trickle is not None and i < len(trickle):
                sock.send(trickle[i : i + 1])
                i += 1
            if sock.recv(4096) == b"":
                return time.monotonic() - t0
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
    return None


def test_idle_and_slow_connections_are_closed_while_requests_are_answered(server):
    limit = LIMITS["read_seconds"] + 10.0  # the deadline, and room for a loaded machine
    slow_request = b"POST /api/run HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" + b"X: y\r\n" * 40
    socks = {name: socket.create_connection((HOST, server.port)) for name in ("idle", "slowloris", "keep-alive")}
    # a keep-alive connection that got its answer, then says nothing more
    socks["keep-alive"].sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert socks["keep-alive"].recv(4096).startswith(b"HTTP/1.1 200")
    closed, threads = {}, []
    for name, trickle in (("idle", None), ("slowloris", slow_request), ("keep-alive", None)):
        t = threading.Thread(
            target=lambda n=name, tr=trickle: closed.__setitem__(n, _closed_after(socks[n], tr, limit))
        )
        t.start()
        threads.append(t)
    answers = []
    while any(t.is_alive() for t in threads):  # the server keeps answering others meanwhile
        answers.append(_get(server.port, b"localhost")[:12])
        time.sleep(0.5)
    for s in socks.values():
        s.close()
    assert all(closed[n] is not None for n in socks), closed  # closed within the limit
    assert answers and set(answers) == {b"HTTP/1.1 200"}


def test_serve_refuses_a_host_it_could_not_check():
    out = subprocess.run(
        [sys.executable, "-m", "ravine", "serve", "--no-open", "--host", "a b"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        "ravine: error: Invalid value for --host: not a host name or IP address: 'a b'"
    ]
