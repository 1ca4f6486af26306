"""Unknown query parameters are refused (422 naming them), as unknown body fields are: a typo
such as `?stauts=new` must not quietly answer with every alert. What is known comes from the
published OpenAPI document, so the check and the contract cannot drift apart."""

from __future__ import annotations

from fastapi import HTTPException, Request


def known_query(request: Request) -> None:
    route = request.scope.get("route")
    op = request.app.openapi().get("paths", {}).get(getattr(route, "path_format", ""), {}).get(request.method.lower())
    if op is None:  # pages and scripts (not in the document) take what browsers add
        return
    allowed = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise HTTPException(422, f"{unknown[0]!r}: unknown query parameter; this operation takes "
                                 f"{', '.join(sorted(allowed)) or 'none'}")
