"""The explorer's HTTP layer: :func:`create_app` (routes, error handlers) and the body limit.

Endpoints (all JSON; every request body validated by pydantic, see ``docs/explorer.md``)::

    GET  /                    the page (static/index.html)
    GET  /static/{file}       style.css (and app.js, which loads js/main.js)
    GET  /static/js/{file}    the page's ES modules (static/js/*.js)
    GET  /vendor/plotly.min.js  Plotly.js from the installed ``plotly`` package (no CDN)
    GET  /api/health          {"ok": true}
    GET  /api/meta            optimizers (each field described by the rule: kind, range, scale,
                              choices, defaults per convention, symbol), 2-D catalog problems, limits
    POST /api/problem         {problem | formula, bounds?} -> title, window, minima, contour grid
    POST /api/run             a whole setup -> trajectories, losses, gradients, optimizer state
    POST /api/explain         setup + optimizer index + step -> the rule's Record at that step
    POST /api/export?format=csv|json   setup -> RunResult.to_csv() / to_json()
    POST /api/conventions     {name, hyper} -> each convention's resolved hyperparameters and the
                              fields that differ, with a sentence each (conventions.py)
    POST /api/eigen           setup + optimizer index -> |q_iᵀ(θ_t − θ*)| along each eigenvector of H
                              (the function's own H on a quadratic, else the local model at the
                              nearest minimum) and the linear rates ρ_i of ravine.analysis.linear
    POST /api/hypermap        setup + index + metric (loss | steps), n, y, ranges -> the final
                              f − f* (or steps to tol) over an (η, y) grid, one batched run, with
                              the stability bounds of ravine.analysis as lines

Limits (:data:`ravine.explorer.schemas.LIMITS`): steps ≤ 10 000, ≤ 16 optimizers, steps ×
optimizers ≤ 40 000, formula ≤ 2000 characters (and the parser's cost model), start coordinates
finite with |x| ≤ 1e6, request bodies ≤ 64 KiB, counts (``window``) ≤ 100, recorded state and
work per request bounded (``limits.py``); the map: ≤ ``map_side`` (64) cells per axis and
cells × steps ≤ ``max_map_work`` (2 000 000) on the compiled path; on the NumPy path (``--no-numba``,
or while its kernel compiles, said by ``compiling``) the grid is made coarser until cells × steps
≤ ``max_map_work_numpy`` (40 000), said by ``coarse``. Hyperparameters are validated by the rules
themselves; their one-line ``ValueError`` becomes a 422 ``{"detail": message}``. User formulas
are parsed only by :func:`ravine.problems.from_formula` (a whitelist over the syntax tree;
never evaluated; the symbolic work in a child process with a hard time limit).

Every computing endpoint runs in one of ``compute_slots`` threads under a deadline: a request
that finds no free slot within ``queue_seconds`` gets 503, one that passes
``request_seconds`` gets 504 (the computation stops at its next evaluation). ``/api/health``
runs on the event loop and answers while every slot is busy. Requests whose ``Host`` header is
not one ``host[:port]`` (:func:`host_name`) or whose host is not in the allow-list (loopback
names, plus what ``ravine serve --host`` binds) get 400 (DNS rebinding); every answer carries
``X-Content-Type-Options: nosniff``, ``X-Frame-Options``,
``Referrer-Policy`` and a Content-Security-Policy that allows the page's own files only.

The computations are in ``engine.py`` (:class:`Explorer`; its rooms: ``problems.py``,
``compiling.py``, ``limits.py``, ``eigen.py``, ``hypermap.py``, ``meta.py``), the request models in
``schemas.py``, the JSON encoder in ``encode.py``; ``ravine serve`` is ``ravine.cli.serve``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Literal

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response

from .._version import __version__
from .conventions import ConventionsRequest
from .conventions import compare as compare_conventions
from .encode import encode
from .engine import Explorer
from .limits import Overloaded, one_line
from .schemas import LIMITS, EigenRequest, ExplainRequest, MapRequest, ProblemSpec, RunSetup

__all__ = ["create_app", "Explorer", "LIMITS", "RunSetup", "encode"]

STATIC = Path(__file__).with_name("static")
#: files under /static/ by name, with their media types (nothing else is served from there)
_STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}
_MODULE = re.compile(r"[a-z][a-z0-9_]*\.js")


#: Host names a loopback-bound server answers to (DNS rebinding: a page of another site that
#: resolves its own name to 127.0.0.1 sends that name in Host)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

#: the page loads its own files, Plotly from /vendor, talks to /api; Plotly sets inline styles
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", CSP.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
]


#: a Host header (RFC 9110 §7.2): a name (letters, digits, dots, hyphens) or an IPv6 literal in
#: brackets, then an optional port of digits; nothing else (no userinfo, path, spaces)
_HOST = re.compile(
    r"(?:\[(?P<ipv6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?))(?::(?P<port>[0-9]{1,5}))?"
)


def host_name(value: str) -> str | None:
    """The host of a Host header ``host[:port]``, lower case (``[::1]:8000`` → ``::1``,
    ``LocalHost:80`` → ``localhost``); None when it is not of that form or the port is not
    1–65535 (``localhost:80@evil.com``, ``localhost:abc``, ``user@localhost``, ``localhost/x``)."""
    m = _HOST.fullmatch(value.lower())
    if m is None or (m["port"] is not None and not 1 <= int(m["port"]) <= 65535):
        return None
    if m["ipv6"] is not None:
        try:
            return str(ipaddress.IPv6Address(m["ipv6"]))
        except ValueError:
            return None
    return m["name"]


def allowed_name(host: str) -> str:
    """A name of the allow-list as :func:`host_name` gives it (``::1``, ``[::1]`` → ``::1``)."""
    h = host.strip().lower()
    if h == "*":
        return h
    if ":" in h and not h.startswith("["):
        h = f"[{h}]"
    name = host_name(h)
    if name is None:
        raise ValueError(f"allowed_hosts: not a host name or address: {host!r}")
    return name


class HostCheck:
    """Refuse requests whose Host header is malformed, repeated or not allowed (400), and add
    the security headers."""

    def __init__(self, app, allowed):
        self.app = app
        self.allowed = frozenset(allowed_name(h) for h in allowed)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        hosts = [value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"host"]
        name = host_name(hosts[0]) if len(hosts) == 1 else None
        if name is None:
            return await _send_json(send, 400, {"detail": "invalid Host header (one host[:port] expected)"})
        if "*" not in self.allowed and name not in self.allowed:
            return await _send_json(send, 400, {"detail": "invalid Host header (this server answers to its own name)"})

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", ())) + SECURITY_HEADERS
            await send(message)

        return await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Reject request bodies over ``limit`` bytes with 413, whether or not Content-Length is sent."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    n = int(value)
                except ValueError:
                    return await _send_json(send, 400, {"detail": "invalid Content-Length header"})
                if n > self.limit:
                    return await _send_json(
                        send, 413, {"detail": f"request body too large: {n} bytes (limit {self.limit})"}
                    )
        if not any(name == b"content-length" for name, _ in scope.get("headers", ())) and scope.get("method") in (
            "POST",
            "PUT",
            "PATCH",
        ):
            # no length given (chunked): read the body here, up to the limit, then replay it
            chunks, seen = [], 0
            while True:
                msg = await receive()
                if msg["type"] != "http.request":
                    return
                body = msg.get("body", b"")
                seen += len(body)
                if seen > self.limit:
                    return await _send_json(send, 413, {"detail": f"request body too large (limit {self.limit} bytes)"})
                chunks.append(body)
                if not msg.get("more_body", False):
                    break
            data = b"".join(chunks)
            sent = False

            async def replay():
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": data, "more_body": False}
                return await receive()

            return await self.app(scope, replay, send)
        return await self.app(scope, receive, send)


async def _send_json(send, status: int, body: dict):
    data = encode(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
            + SECURITY_HEADERS,
        }
    )
    await send({"type": "http.response.body", "body": data})


def _validation_message(exc: RequestValidationError) -> tuple[str, list]:
    errors = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        msg = str(err.get("msg", "invalid value")).splitlines()[0][:200]
        errors.append({"loc": loc, "msg": msg})  # never echo the input back
    first = errors[0] if errors else {"loc": "", "msg": "invalid request"}
    return (f"{first['loc']}: {first['msg']}" if first["loc"] else first["msg"]), errors


def _json(data: dict) -> Response:
    return Response(encode(data), media_type="application/json")


def _factory() -> FastAPI:
    """The app of one worker process (``ravine serve --workers N``)."""
    hosts = [h for h in os.environ.get("RAVINE_EXPLORER_HOSTS", "").split(",") if h]
    return create_app(numba=os.environ.get("RAVINE_EXPLORER_NUMBA", "1") != "0", allowed_hosts=hosts)


class Slots:
    """``LIMITS["compute_slots"]`` computations at once, each under the request deadline.

    A slot is held until its thread really ends (a thread cannot be killed), so a computation
    that overran its 504 still counts; the deadline checks inside the engine end it soon after.
    """

    def __init__(self, engine: Explorer, n: int, what: str = "compute"):
        self.engine = engine
        self.n = n
        self.what = what
        self.sem = threading.BoundedSemaphore(n)
        self.heavy = threading.BoundedSemaphore(1)

    async def _acquire(self, sem: threading.BoundedSemaphore, give_up: float, what: str) -> None:
        while not sem.acquire(blocking=False):
            if self.engine.closing:  # stopping: a request still queued starts nothing
                raise Overloaded("the explorer is stopping", 503)
            if time.monotonic() > give_up:
                raise Overloaded(f"the explorer is busy ({what})", 503)
            await anyio.sleep(0.02)

    async def __call__(self, fn, *args, heavy: bool = False):
        """``fn(*args)`` in a slot; a ``heavy`` request also needs the one heavy slot, so long
        runs never take every slot from short ones."""
        give_up = time.monotonic() + LIMITS["queue_seconds"]
        held = []
        try:
            if heavy:
                await self._acquire(self.heavy, give_up, "the one slot for long runs is in use")
                held.append(self.heavy)
            await self._acquire(self.sem, give_up, f"all {self.n} {self.what} slots are in use")
            held.append(self.sem)
        except BaseException:
            for sem in held:
                sem.release()
            raise

        def work():
            try:
                return self.engine.call(fn, *args)
            finally:
                for sem in held:
                    sem.release()

        try:
            with anyio.fail_after(LIMITS["request_seconds"] + 1.0):
                return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        except TimeoutError:
            raise Overloaded(f"the request passed its time limit of {LIMITS['request_seconds']:g} s") from None


def _heavy(setup: RunSetup) -> bool:
    """A long run (more than ``light_work`` optimizer steps): one such run computes at a time."""
    return setup.steps * len(setup.optimizers) > LIMITS["light_work"]


def create_app(*, numba: bool = True, background: bool = True, allowed_hosts=()) -> FastAPI:
    """The explorer app. ``numba=False`` keeps every run on the NumPy path; ``background=False``
    compiles kernels in the request that first needs them (tests). ``allowed_hosts`` adds
    names to the Host allow-list (loopback names always)."""
    engine = Explorer(numba=numba, background=background)
    compute = Slots(engine, LIMITS["compute_slots"])
    # a new formula's symbolic work waits on a child process, not on a core: it has slots of its
    # own, so slow formulas never hold the slots that runs on known problems need
    symbolic = Slots(engine, LIMITS["formula_slots"], "formula")

    async def prepared(spec: ProblemSpec):
        if spec.formula is not None and spec.formula.strip():
            await symbolic(engine.entry, spec)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        from ravine.problems.symbolic import WARM_MODULE
        from ravine.problems.worker import start_server

        start_server(WARM_MODULE)  # the formula fork server, started before the first formula
        yield
        engine.close()

    app = FastAPI(
        title="ravine explorer",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.add_middleware(BodyLimit, limit=LIMITS["max_body"])
    app.add_middleware(HostCheck, allowed=LOOPBACK_HOSTS | set(allowed_hosts))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        message, errors = _validation_message(exc)
        return JSONResponse({"detail": message, "errors": errors[:10]}, status_code=422)

    @app.exception_handler(ValueError)  # BadRequest, FormulaError, the rules' ValueErrors
    async def _value_error(request: Request, exc: ValueError):
        return JSONResponse({"detail": one_line(exc)}, status_code=422)

    @app.exception_handler(Overloaded)  # busy (503) or past the request's time limit (504)
    async def _overloaded(request: Request, exc: Overloaded):
        return JSONResponse({"detail": one_line(exc)}, status_code=exc.status, headers={"Retry-After": "2"})

    @app.exception_handler(MemoryError)
    async def _memory(request: Request, exc: MemoryError):
        return JSONResponse({"detail": "the request needed more memory than there is"}, status_code=503)

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        if name not in _STATIC_FILES:
            return JSONResponse({"detail": "not found"}, status_code=404)
        return FileResponse(STATIC / name, media_type=_STATIC_FILES[name], headers={"Cache-Control": "no-cache"})

    @app.get("/static/js/{name}", include_in_schema=False)
    def module(name: str):
        path = STATIC / "js" / name
        if not _MODULE.fullmatch(name) or not path.is_file():
            return JSONResponse({"detail": "not found"}, status_code=404)
        return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js():
        import plotly

        path = Path(plotly.__file__).with_name("package_data") / "plotly.min.js"
        return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/api/health")
    async def health():  # on the event loop: answers while every compute slot is busy
        return {"ok": True}

    @app.get("/api/meta")
    async def meta():
        return Response(await compute(engine.meta), media_type="application/json")

    @app.post("/api/problem")
    async def problem(spec: ProblemSpec):
        await prepared(spec)
        return _json(await compute(engine.problem_info, spec))

    @app.post("/api/run")
    async def run(setup: RunSetup):
        await prepared(setup)
        return _json(await compute(engine.run, setup, heavy=_heavy(setup)))

    @app.post("/api/explain")
    async def explain(req: ExplainRequest):
        await prepared(req.setup)
        return _json(await compute(engine.explain, req, heavy=_heavy(req.setup)))

    @app.post("/api/eigen")
    async def eigen(req: EigenRequest):
        await prepared(req.setup)
        return _json(await compute(engine.eigen, req, heavy=_heavy(req.setup)))

    @app.post("/api/hypermap")
    async def hypermap(req: MapRequest):
        await prepared(req.setup)
        return _json(await compute(engine.hypermap, req, heavy=True))

    @app.post("/api/conventions")
    async def conventions_(req: ConventionsRequest):
        return _json(await compute(compare_conventions, req))

    @app.post("/api/export")
    async def export(setup: RunSetup, format: Literal["csv", "json"] = "csv"):
        await prepared(setup)

        def build():
            res = engine.combined(setup)
            if format == "csv":
                return res.to_csv()
            data = res.to_dict()
            data["setup"] = setup.model_dump()
            return json.dumps(data)

        body = await compute(build, heavy=_heavy(setup))
        if format == "csv":
            return Response(
                body,
                media_type="text/csv",
                headers={"Content-Disposition": 'attachment; filename="ravine-trajectories.csv"'},
            )
        return Response(
            body,
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="ravine-trajectories.json"'},
        )

    return app
