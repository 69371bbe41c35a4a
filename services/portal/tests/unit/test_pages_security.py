"""Headers, cookies, CSRF and the layout's accessibility, on the real app (its gateway unreachable: these pages need
none of its data)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from demimas_portal.app import create_app
from demimas_portal.security import CSP
from demimas_portal.session import COOKIE_NAME
from demimas_portal.settings import PortalSettings

TEMPLATES = Path(__file__).parents[2] / "src" / "demimas_portal" / "templates"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = PortalSettings(
        environment="test", dev_keys_dir=tmp_path, portal_gateway_url="http://127.0.0.1:9/graphql"
    )
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as http:
        yield http
    await app.state.portal.gateway.close()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "a form without its CSRF token"
    return match.group(1)


async def test_every_response_carries_the_security_headers(client: httpx.AsyncClient) -> None:
    for method, path in [("GET", "/signin"), ("GET", "/"), ("GET", "/static/portal.css"), ("GET", "/nope"),
                         ("GET", "/healthz"), ("POST", "/signin"), ("GET", "/pilots")]:  # fmt: skip
        response = await client.request(method, path)
        assert response.headers["content-security-policy"] == CSP, path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "same-origin", path


def test_no_template_has_inline_script_or_style() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert "<style" not in text, template.name
        assert "style=" not in text, template.name
        assert not re.search(r"\son[a-z]+=", text), template.name  # no event handler attributes
        assert "javascript:" not in text, template.name
        assert not re.search(r"https?://", text), template.name  # nothing from a CDN


async def test_the_sign_in_page_is_accessible(client: httpx.AsyncClient) -> None:
    html = (await client.get("/signin")).text
    assert '<html lang="id">' in html
    assert 'href="#main"' in html
    assert '<main id="main"' in html
    assert "<header" in html
    assert html.count("<h1") == 1
    assert '<label for="agency">' in html
    assert '<label for="region">' in html
    english = (await client.get("/signin?lang=en")).text
    assert '<html lang="en">' in english
    assert "Sign in" in english


async def test_the_cookie_is_httponly_lax_and_not_secure_in_development(client: httpx.AsyncClient) -> None:
    cookie = (await client.get("/signin")).headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie


async def test_sign_in_needs_the_pre_session_csrf_token(client: httpx.AsyncClient) -> None:
    token = csrf_of((await client.get("/signin")).text)
    refused = await client.post("/signin", data={"agency": "KEMENKO_POLKAM"})
    assert refused.status_code == 403
    assert "CSRF_FAILED" in refused.text
    refused = await client.post("/signin", data={"agency": "KEMENKO_POLKAM", "csrf_token": token + "0"})
    assert refused.status_code == 403
    for path in ("/signin", "/signout", "/lang"):  # a non-ASCII token: the 403 page, not a 500
        refused = await client.post(path, data={"agency": "KEMENKO_POLKAM", "lang": "en", "csrf_token": "\u00e9" * 64})
        assert (refused.status_code, path) == (403, path)
        assert 'data-testid="error-code">CSRF_FAILED' in refused.text
    accepted = await client.post("/signin", data={"agency": "KEMENKO_POLKAM", "csrf_token": token})
    assert accepted.status_code == 303
    assert accepted.headers["location"] == "/pilots"


async def test_a_token_from_another_browser_is_refused(client: httpx.AsyncClient, tmp_path: Path) -> None:
    token = csrf_of((await client.get("/signin")).text)
    client.cookies.clear()
    await client.get("/signin")  # a new browser: a new pre-session
    refused = await client.post("/signin", data={"agency": "KEMENKO_POLKAM", "csrf_token": token})
    assert refused.status_code == 403
    assert 'data-testid="error-code">CSRF_FAILED' in refused.text


async def test_signing_in_replaces_the_csrf_secret_and_shows_the_agency(client: httpx.AsyncClient) -> None:
    before = csrf_of((await client.get("/signin")).text)
    await client.post("/signin", data={"agency": "DISNAKER", "region": "16.06", "csrf_token": before})
    page = (await client.get("/signin")).text  # the sign-in page renders the layout of a signed-in person too
    assert csrf_of(page) != before
    assert 'data-testid="signed-in-agency">DISNAKER' in page
    assert "16.06" in page


async def test_a_regional_office_needs_a_region(client: httpx.AsyncClient) -> None:
    token = csrf_of((await client.get("/signin")).text)
    response = await client.post("/signin", data={"agency": "BP3MI", "csrf_token": token})
    assert response.status_code == 400
    assert 'data-testid="signin-error"' in response.text


async def test_language_switch_is_a_csrf_protected_post(client: httpx.AsyncClient) -> None:
    token = csrf_of((await client.get("/signin")).text)
    assert (await client.post("/lang", data={"lang": "en", "next": "/signin"})).status_code == 403
    moved = await client.post("/lang", data={"lang": "en", "next": "/signin", "csrf_token": token})
    assert moved.status_code == 303
    assert moved.headers["location"] == "/signin"
    assert '<html lang="en">' in (await client.get("/signin")).text
    away = await client.post("/lang", data={"lang": "id", "next": "//evil.example", "csrf_token": token})
    assert away.headers["location"] == "/"


async def test_pages_need_a_session(client: httpx.AsyncClient) -> None:
    response = await client.get("/pilots")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin"


async def test_readiness_says_the_gateway_is_missing(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["gateway"]


def test_production_needs_oidc_a_session_key_and_nats() -> None:
    with pytest.raises(ValueError, match="DEMIMAS_PORTAL_SESSION_KEY"):
        PortalSettings(environment="production")
    given = {
        "environment": "production",
        "portal_session_key": "k" * 32,
        "portal_oidc_issuer": "https://id.example",
        "portal_oidc_client_id": "portal",
        "portal_oidc_redirect_url": "https://portal.example/auth/callback",
    }
    with pytest.raises(ValueError, match=r"needs DEMIMAS_NATS_URL \(the revoked sessions\)"):
        PortalSettings(**given)  # without NATS a sign-out could not end a copied cookie
    settings = PortalSettings(**given, nats_url="nats://nats:4222")
    assert not settings.development  # no database asked for: the portal has none
    assert settings.database_url is None


async def test_in_production_the_cookie_is_secure_and_there_is_no_dev_sign_in() -> None:
    settings = PortalSettings(
        environment="production",
        portal_session_key="k" * 32,
        portal_oidc_issuer="https://id.example",
        portal_oidc_client_id="portal",
        portal_oidc_redirect_url="https://portal.example/auth/callback",
        portal_gateway_url="http://127.0.0.1:9/graphql",
        nats_url="nats://127.0.0.1:9",
    )
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://portal") as http:
        response = await http.get("/pilots")
        assert "Secure" in response.headers["set-cookie"]
        assert (await http.post("/signin", data={"agency": "KP2MI"})).status_code == 404
    await app.state.portal.gateway.close()
    await app.state.oidc.http.aclose()


@pytest.mark.parametrize(
    ("given", "kept"),
    [("/pilots/1", "/pilots/1"), ("/pilots?status=ACTIVE", "/pilots?status=ACTIVE"), (None, "/pilots"),
     ("//evil.example", "/pilots"), ("https://evil.example", "/pilots"), ("/\t/evil.example", "/pilots"),
     ("/\\evil.example", "/pilots"), ("pilots", "/pilots")],
)  # fmt: skip
def test_forms_go_back_to_local_paths_only(given: str | None, kept: str) -> None:
    from demimas_portal.web import safe_next

    assert safe_next(given) == kept


async def test_without_the_devstack_keys_dev_sign_in_says_how_to_get_them() -> None:
    settings = PortalSettings(
        environment="development", dev_keys_dir=None, portal_gateway_url="http://127.0.0.1:9/graphql"
    )
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as http:
        token = csrf_of((await http.get("/signin")).text)
        response = await http.post("/signin", data={"agency": "KP2MI", "csrf_token": token})
        assert response.status_code == 503
        assert "DEMIMAS_DEV_KEYS_DIR" in response.text
    await app.state.portal.gateway.close()


async def test_a_page_that_fails_is_a_500_page_with_the_security_headers(tmp_path: Path) -> None:
    """Attack: make a page fail (an answer the portal cannot shape). Starlette's outermost ServerErrorMiddleware sent
    its bare 500 past every added middleware, so that response had no CSP, nosniff or frame headers."""
    from demimas_portal.gateway import GatewayClient

    def gateway(request: httpx.Request) -> httpx.Response:
        if b"pilotProject(" in request.content:  # a shape the page does not expect
            return httpx.Response(200, json={"data": {"pilotProject": {"id": "x", "villages": 5, "milestones": 5}}})
        return httpx.Response(200, json={"data": {}})

    settings = PortalSettings(environment="test", dev_keys_dir=tmp_path, portal_gateway_url="http://gw/graphql")
    client = GatewayClient("http://gw/graphql")
    client._http = httpx.AsyncClient(transport=httpx.MockTransport(gateway))
    app = create_app(settings, gateway=client)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal") as http:
        token = csrf_of((await http.get("/signin")).text)
        await http.post("/signin", data={"csrf_token": token, "agency": "KEMENKO_POLKAM"})
        response = await http.get("/pilots/0190c1d2-9a6b-7c2e-8f00-000000000001")
    await client.close()
    assert response.status_code == 500
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert 'data-testid="error-code">INTERNAL<' in response.text
    assert "Traceback" not in response.text
    assert "TypeError" not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/villages/16.06.13.2001%0A",  # `$` let a trailing newline through
        "/villages/%D9%A1%D9%A6.%D9%A0%D9%A6.%D9%A1%D9%A3.%D9%A2%D9%A0%D9%A0%D9%A1",  # Arabic-Indic digits: `\d`
        "/audit/traces/4bf92f3577b34da6a3ce929d0e0e4736%0A",
        "/pilots/not-a-pilot",
        "/pilots/" + "a" * 5000,
        "/pilots/0190c1d2-9a6b-7c2e-8f00-000000000001%0A",
    ],
)
async def test_a_malformed_path_parameter_is_a_404_page_that_never_reaches_the_gateway(
    tmp_path: Path, path: str
) -> None:
    """Attack: path parameters the portal took for valid (a trailing newline, other scripts' digits) or never checked
    (pilot ids) went to the gateway as they were. Each is a 404 page now, with no gateway request but the labels'."""
    from demimas_portal.gateway import GatewayClient

    asked: list[bytes] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        asked.append(request.content)
        return httpx.Response(200, json={"data": {}})

    settings = PortalSettings(environment="test", dev_keys_dir=tmp_path, portal_gateway_url="http://gw/graphql")
    client = GatewayClient("http://gw/graphql")
    client._http = httpx.AsyncClient(transport=httpx.MockTransport(gateway))
    app = create_app(settings, gateway=client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as http:
        token = csrf_of((await http.get("/signin")).text)
        await http.post("/signin", data={"csrf_token": token, "agency": "AUDITOR"})
        asked.clear()
        response = await http.get(path)
        posted = await http.post(f"{path}/milestones/m/complete", data={"csrf_token": csrf_of(response.text)})
    await client.close()
    assert response.status_code == 404
    assert 'data-testid="error-code">HTTP_404<' in response.text
    assert posted.status_code == 404
    assert [body for body in asked if b"labels" not in body.lower()] == []


async def test_a_refused_request_without_the_cookie_sets_none(client: httpx.AsyncClient) -> None:
    """Another site's form posted at the portal arrives without the session cookie (SameSite=Lax): the refusal must
    not set a fresh empty session, which would replace the person's own and sign them out."""
    for path, status in [("/pilots/p1/milestones/m1/complete", 303), ("/signout", 403), ("/lang", 403),
                         ("/signin", 403)]:  # fmt: skip
        response = await client.post(path, data={"lang": "en"})
        assert response.status_code == status, path
        assert "set-cookie" not in response.headers, path
        assert not client.cookies
    first = await client.get("/pilots")  # a first visit (a GET) still gets its session on the way to sign in
    assert first.status_code == 303
    assert COOKIE_NAME in first.headers["set-cookie"]
    kept = await client.post("/signout", data={})  # with the cookie, the refusal page keeps the session going
    assert kept.status_code == 403
    assert COOKIE_NAME in kept.headers["set-cookie"]
