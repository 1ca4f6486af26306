"""Error answers: one `Problem` body (`detail` naming field and value, `errors` listing each) for the
sightings route's own checks and for FastAPI's validation of paths, queries and bodies alike."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def problem(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    """Error body: a one-line `detail` naming field and value, and `errors` when there are several."""
    body: dict[str, Any] = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


def loc_name(loc: tuple[Any, ...]) -> str:
    """(3, 'image', 'box') → '[3].image.box' — the field as the sender wrote it."""
    name = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
    return name.lstrip(".") or "body"


def _value(v: Any) -> Any:
    """The offending value, made JSON-safe (NaN/inf as text) and cut short."""
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    if isinstance(v, str):  # a lone surrogate is shown escaped: the answer itself must be UTF-8
        v = v.encode("utf-8", "backslashreplace").decode("utf-8")
    text = json.dumps(v, allow_nan=True, default=str) if not isinstance(v, str) else v
    return v if len(text) <= 120 else text[:117] + "..."


def invalid(errors: list[dict[str, Any]], skip: int) -> JSONResponse:
    """422 for pydantic errors; `skip` leading parts of each error's location are not the sender's
    (the list index of an unbatched sighting, FastAPI's 'query'/'path'/'body')."""
    listed = [{"field": loc_name(tuple(e["loc"][skip:])), "problem": e["msg"].removeprefix("Value error, "),
               "value": None if e["type"] == "missing" else _value(e.get("input"))} for e in errors]
    first = listed[0]
    got = "" if first["value"] is None else f" (got {first['value']!r})"
    more = f" (and {len(listed) - 1} more)" if len(listed) > 1 else ""
    return problem(422, f"{first['field']}: {first['problem']}{got}{more}", listed)


async def request_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    return invalid(list(exc.errors()), skip=1)
