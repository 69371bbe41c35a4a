"""The tracker's pages: pilots, a pilot (and completing a milestone), overdue milestones of my agency.

Every route follows docs/portal.md ("How a page is made"): the page (session), the gateway query with the
session's token, a pure shaping function of `views/`, the template.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from demimas_portal.gateway import AccessDenied, GatewayError, GatewayFailed
from demimas_portal.views import overdue as overdue_view
from demimas_portal.views import pilot as pilot_view
from demimas_portal.views import pilots as pilots_view
from demimas_portal.views.enums import valid_id
from demimas_portal.web import Page, Portal

__all__ = ["router"]

router = APIRouter()


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


@router.get("/pilots")
async def pilots(request: Request) -> Response:
    page = await _portal(request).page(request)
    filters = pilots_view.parse_filters(request.query_params)
    result = await page.gateway(pilots_view.QUERY, pilots_view.variables(filters), needs=pilots_view.NEEDS)
    view = pilots_view.shape(result.data, await page.labels(), filters)
    return await page.render("pilots.html", view=view, problems=_problems(page, result.errors))


@router.get("/pilots/{pilot_id}")
async def pilot(request: Request, pilot_id: str) -> Response:
    page = await _portal(request).page(request)
    if not valid_id(pilot_id):  # no pilot has such an id: 404 without asking the gateway
        raise HTTPException(status_code=404)
    result = await page.gateway(pilot_view.QUERY, {"id": pilot_id}, needs=pilot_view.NEEDS)
    node = result.data.get("pilotProject")
    if node is None:
        raise HTTPException(status_code=404)
    view = pilot_view.shape(node, await page.labels(), page.session.agency)
    return await page.render("pilot.html", view=view, problems=_problems(page, result.errors))


@router.post("/pilots/{pilot_id}/milestones/{milestone_id}/complete")
async def complete_milestone(request: Request, pilot_id: str, milestone_id: str) -> Response:
    """POST/redirect/GET: the outcome is a flash message on the pilot's page, in the session's language."""
    page = await _portal(request).page(request)
    await page.form()
    if not (valid_id(pilot_id) and valid_id(milestone_id)):  # nothing to complete, nor a pilot page to go back to
        raise HTTPException(status_code=404)
    variables = {"pilotId": pilot_id, "milestoneId": milestone_id, "completedOn": dt.date.today().isoformat()}
    try:
        result = await page.gateway(pilot_view.COMPLETE, variables, needs="pilot:write")
    except AccessDenied as exc:
        _flash_refusal(page, exc.error.code, exc.error.message)
    except GatewayFailed as exc:
        first = exc.errors[0] if exc.errors else None
        _flash_refusal(page, first.code if first else "UNAVAILABLE", first.message if first else "")
    else:
        if result.errors or not result.data.get("completeMilestone"):
            first = result.errors[0] if result.errors else None
            _flash_refusal(page, first.code if first else "NOT_FOUND", first.message if first else "")
        elif result.trace_id:  # the reference an auditor opens the completion's trace with (/audit/traces/{id})
            page.flash("milestone.completed.reference", "success", trace=result.trace_id)
        else:
            page.flash("milestone.completed", "success")
    return page.redirect(f"/pilots/{pilot_id}#milestones")


@router.get("/overdue")
async def overdue(request: Request) -> Response:
    page = await _portal(request).page(request)
    variables = {"agency": page.session.agency, "first": overdue_view.LIMIT}
    result = await page.gateway(overdue_view.QUERY, variables, needs=overdue_view.NEEDS)
    rows = overdue_view.shape(result.data, await page.labels())
    return await page.render("overdue.html", rows=rows, problems=_problems(page, result.errors))


def _flash_refusal(page: Page, code: str, message: str) -> None:
    known = {"FORBIDDEN", "CONFLICT", "NOT_FOUND", "BAD_USER_INPUT", "UNAVAILABLE"}
    key = f"milestone.refused.{code}" if code in known else "milestone.refused"
    page.flash(key, "error", code=code, message=message)


def _problems(page: Page, errors: list[GatewayError]) -> list[str]:
    """The gateway's errors on parts of a page that still renders, as lines to show."""
    return [page.t("error.gateway", code=e.code, message=e.message) for e in errors]
