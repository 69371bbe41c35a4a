"""The auditor's pages: `GET /audit` (find a trace; search events by correlation id or village),
`GET /audit/traces/{trace_id}` (one request's events across services) and `GET /audit/chain` (the hash chain's
verification). The gateway decides who may read them (`audit:read`): another agency gets the 403 page."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from demimas_portal.gateway import GatewayError
from demimas_portal.views import audit as audit_view
from demimas_portal.web import Page, Portal

__all__ = ["router"]

router = APIRouter()


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


@router.get("/audit")
async def audit(request: Request) -> Response:
    page = await _portal(request).page(request)
    search = audit_view.parse_search(request.query_params)
    if search.trace_id:
        return page.redirect(f"/audit/traces/{search.trace_id}")
    view = None
    errors: list[GatewayError] = []
    if search.asked:
        result = await page.gateway(audit_view.SEARCH, audit_view.search_variables(search), needs=audit_view.NEEDS)
        view = audit_view.shape_search(result.data, await page.labels(), search)
        errors = result.errors
    return await page.render("audit.html", search=search, view=view, problems=_problems(page, errors))


@router.get("/audit/traces/{trace_id}")
async def trace(request: Request, trace_id: str) -> Response:
    page = await _portal(request).page(request)
    trace_id = trace_id.lower()
    if not audit_view.valid_trace_id(trace_id):
        raise HTTPException(status_code=404)
    result = await page.gateway(audit_view.TRACE, {"traceId": trace_id}, needs=audit_view.NEEDS)
    view = audit_view.shape_trace(trace_id, result.data.get("auditTrace"), await page.labels())
    return await page.render("audit_trace.html", view=view, problems=_problems(page, result.errors))


@router.get("/audit/chain")
async def chain(request: Request) -> Response:
    page = await _portal(request).page(request)
    result = await page.gateway(audit_view.CHAIN, needs=audit_view.NEEDS)
    view = audit_view.shape_chain(result.data)
    return await page.render("audit_chain.html", view=view, problems=_problems(page, result.errors))


def _problems(page: Page, errors: list[GatewayError]) -> list[str]:
    return [page.t("error.gateway", code=e.code, message=e.message) for e in errors]
