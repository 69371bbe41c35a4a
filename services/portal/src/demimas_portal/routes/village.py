"""`GET /villages/{code}`: the village page (docs/portal.md, "How a page is made")."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from demimas_portal.gateway import AccessDenied, GatewayError
from demimas_portal.views import village as village_view
from demimas_portal.web import Page, Portal

__all__ = ["router"]

router = APIRouter()


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


@router.get("/villages/{code}")
async def village(request: Request, code: str) -> Response:
    page = await _portal(request).page(request)
    if not village_view.valid_code(code):
        raise HTTPException(status_code=404)
    variables = {"code": code}
    main, thematic = await asyncio.gather(
        page.gateway(village_view.QUERY, variables | {"lang": page.session.lang.upper()}),
        page.gateway(village_view.THEMATIC, variables),
        return_exceptions=True,
    )
    if isinstance(main, BaseException):
        raise main
    node = main.data.get("village")
    if node is None:  # no such village, or outside the caller's region (the region rule: it does not exist)
        raise HTTPException(status_code=404)
    refused = set(village_view.refused_sections(main.errors))
    errors = [e for e in main.errors if not _is_refusal(e, refused)]
    statuses = None
    if isinstance(thematic, AccessDenied):
        refused.add("thematicStatuses")
    elif isinstance(thematic, BaseException):
        raise thematic
    elif village_view.refused_sections(thematic.errors, ("thematicStatuses",)):
        refused.add("thematicStatuses")
    else:
        statuses = (thematic.data.get("village") or {}).get("thematicStatuses")
        errors += thematic.errors
    view = village_view.shape(node, await page.labels(), thematic=statuses, refused=frozenset(refused))
    return await page.render("village.html", view=view, problems=_problems(page, errors))


def _is_refusal(error: GatewayError, refused: set[str]) -> bool:
    return error.code in village_view.DENIED and len(error.path) >= 2 and error.path[1] in refused


def _problems(page: Page, errors: list[GatewayError]) -> list[str]:
    return [page.t("error.gateway", code=e.code, message=e.message) for e in errors]
