"""A real ``ravine serve`` in a child process, on a free loopback port (the explorer's tests)."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """``ravine serve`` in a child process, on a free loopback port."""

    def __init__(self, numba: bool = False):
        self.port = free_port()
        args = [sys.executable, "-m", "ravine.cli", "serve", "--no-open", "--host", HOST, "--port", str(self.port)]
        if not numba:
            args.append("--no-numba")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/api/health", timeout=1)[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
            if self.proc.poll() is not None:
                raise RuntimeError(f"ravine serve exited: {self.proc.stderr.read()[-2000:]}")
        raise RuntimeError("ravine serve did not start within 60 s")

    def request(self, method, path, body=None, timeout=30.0, host=None):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if data is not None else {}
            if host is not None:
                headers["Host"] = host
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            return r.status, r.read(), dict(r.getheaders())
        finally:
            conn.close()

    def rss_mb(self) -> float:
        """Resident memory of the server process (MB)."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def stop(self, sig=signal.SIGINT, wait: float = 15.0) -> float:
        """Send ``sig``; seconds until the process ended."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return float("inf")
        return time.monotonic() - t0
