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

Limits (:data:`ravine.explorer.schemas.LIMITS`): steps ≤ 10 000, ≤ 16 optimizers, steps ×
optimizers ≤ 40 000, formula ≤ 2000 characters (and the parser's own limits), start coordinates
finite with |x| ≤ 1e6, request bodies ≤ 64 KiB. Hyperparameters are validated by the rules
themselves; their one-line ``ValueError`` becomes a 422 ``{"detail": message}``. User formulas
are parsed only by :func:`ravine.problems.from_formula` (a whitelist over the syntax tree;
never evaluated).

The computations are in ``engine.py`` (:class:`Explorer`), the request models in
``schemas.py``, the JSON encoder in ``encode.py``; ``ravine serve`` is ``ravine.cli.serve``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response

from .._version import __version__
from .encode import encode
from .engine import Explorer, one_line
from .schemas import LIMITS, ExplainRequest, ProblemSpec, RunSetup

__all__ = ["create_app", "Explorer", "LIMITS", "RunSetup", "encode"]

STATIC = Path(__file__).with_name("static")
#: files under /static/ by name, with their media types (nothing else is served from there)
_STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}
_MODULE = re.compile(r"[a-z][a-z0-9_]*\.js")


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
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
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
    return create_app(numba=os.environ.get("RAVINE_EXPLORER_NUMBA", "1") != "0")


def create_app(*, numba: bool = True, background: bool = True) -> FastAPI:
    """The explorer app. ``numba=False`` keeps every run on the NumPy path; ``background=False``
    compiles kernels in the request that first needs them (tests)."""
    engine = Explorer(numba=numba, background=background)

    @contextlib.asynccontextmanager
    async def lifespan(app):
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

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        message, errors = _validation_message(exc)
        return JSONResponse({"detail": message, "errors": errors[:10]}, status_code=422)

    @app.exception_handler(ValueError)  # BadRequest, FormulaError, the rules' ValueErrors
    async def _value_error(request: Request, exc: ValueError):
        return JSONResponse({"detail": one_line(exc)}, status_code=422)

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
    def health():
        return {"ok": True}

    @app.get("/api/meta")
    def meta():
        return Response(engine.meta(), media_type="application/json")

    @app.post("/api/problem")
    def problem(spec: ProblemSpec):
        return _json(engine.problem_info(spec))

    @app.post("/api/run")
    def run(setup: RunSetup):
        return _json(engine.run(setup))

    @app.post("/api/explain")
    def explain(req: ExplainRequest):
        return _json(engine.explain(req))

    @app.post("/api/export")
    def export(setup: RunSetup, format: Literal["csv", "json"] = "csv"):
        res = engine.combined(setup)
        if format == "csv":
            return Response(
                res.to_csv(),
                media_type="text/csv",
                headers={"Content-Disposition": 'attachment; filename="ravine-trajectories.csv"'},
            )
        data = res.to_dict()
        data["setup"] = setup.model_dump()
        return Response(
            json.dumps(data),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="ravine-trajectories.json"'},
        )

    return app
