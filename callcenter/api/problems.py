"""Problem details (RFC 9457) for every error the API answers, FastAPI's validation errors
included: a type, a title, the status and a detail saying what to fix — never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from callcenter.outbound.jobs import JobConflict, JobError, StoreUnavailable
from callcenter.outbound.requests import RequestRefused

__all__ = ["PROBLEM_JSON", "RETRY_AFTER", "ApiProblem", "install", "problem_response"]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER = 5  # seconds a client waits after a 503 before trying again
_TYPE = "urn:callcenter:problem:"  # a problem's type; docs/api.md lists them


class ApiProblem(Exception):
    """An error answered as problem+JSON."""

    def __init__(self, status: int, slug: str, title: str, detail: str, *,
                 errors: Sequence[Mapping[str, str]] = (),
                 headers: Mapping[str, str] | None = None):
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


def problem_response(p: ApiProblem) -> JSONResponse:
    body: dict[str, Any] = {"type": _TYPE + p.slug, "title": p.title, "status": p.status,
                            "detail": p.detail}
    if p.errors:
        body["errors"] = p.errors
    return JSONResponse(body, status_code=p.status, headers=p.headers, media_type=PROBLEM_JSON)


def _field(loc: Sequence[Any]) -> str:
    """`reminders[3].lesson_start` from pydantic's ('body', 'reminders', 3, 'lesson_start')."""
    parts = list(loc[1:]) if loc and loc[0] == "body" else list(loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "body"


def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # the caller's input is not echoed: it may hold what should not reach a log or proxy
    errors = [{"field": _field(e.get("loc", ())), "message": str(e.get("msg", ""))}
              for e in exc.errors()]
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return problem_response(ApiProblem(
        422, "validation", "The request is not valid",
        f"{first['field']}: {first['message']}{more} — fix the fields listed in errors",
        errors=errors))


def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestRefused)
    errors = [{"field": f, "message": m} for f, m in exc.errors]
    return problem_response(ApiProblem(422, "refused", "The request cannot be carried out",
                                       str(exc), errors=errors))


def _conflict(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, JobConflict):
        return problem_response(ApiProblem(
            409, "idempotency-conflict", "Idempotency key already used",
            f"{exc} — this Idempotency-Key was used for a different request; send a new "
            "key for a new request, or the same body to get the stored job"))
    return problem_response(ApiProblem(409, "job-state", "The job cannot be changed",
                                       str(exc)))


def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.warning("API: the job store is unavailable: %s", exc)
    return problem_response(ApiProblem(
        503, "store-unavailable", "The job store is unavailable",
        "the database cannot be reached, so nothing was stored — send the same request "
        f"again (with the same Idempotency-Key) in {RETRY_AFTER} seconds",
        headers={"Retry-After": str(RETRY_AFTER)}))


def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = {404: "no such resource — see /openapi.json for the paths",
              405: "this method is not allowed here — see /openapi.json"}.get(
        exc.status_code, str(exc.detail))
    return problem_response(ApiProblem(exc.status_code, f"http-{exc.status_code}",
                                       str(exc.detail), detail, headers=exc.headers))


def _internal(_: Request, exc: Exception) -> JSONResponse:
    log.error("API: internal error: %r", exc, exc_info=exc)
    return problem_response(ApiProblem(
        500, "internal", "Internal error",
        "the call centre failed to handle this request; it is logged — try again later"))


def install(app: FastAPI) -> None:
    """Answer every error of `app` as problem+JSON."""
    app.add_exception_handler(ApiProblem, lambda _, exc: problem_response(exc))  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(RequestRefused, _refused)
    app.add_exception_handler(JobError, _conflict)
    app.add_exception_handler(StoreUnavailable, _unavailable)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _internal)
