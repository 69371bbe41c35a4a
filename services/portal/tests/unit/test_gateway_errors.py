"""How a gateway answer becomes what a page does (sign in again, a 403 page, an error, or data)."""

from __future__ import annotations

from typing import Any

import pytest

from demimas_portal.gateway import AccessDenied, GatewayFailed, SignInAgain, check


def err(code: str, path: list[Any] | None = None, **ext: Any) -> dict[str, Any]:
    return {"message": f"{code} happened", "path": path, "extensions": {"code": code, **ext}}


def test_data_passes_with_its_errors() -> None:
    result = check({"data": {"a": {"b": None}}, "errors": [err("NOT_FOUND", ["a", "b"])]})
    assert result.data == {"a": {"b": None}}
    assert [e.code for e in result.errors] == ["NOT_FOUND"]


@pytest.mark.parametrize(
    "payload",
    [{"data": None, "errors": [err("UNAUTHENTICATED")]}, {"data": {"a": 1}, "errors": [err("UNAUTHENTICATED", ["a"])]}],
)
def test_unauthenticated_means_sign_in_again(payload: dict[str, Any]) -> None:
    with pytest.raises(SignInAgain):
        check(payload)


def test_http_401_means_sign_in_again() -> None:
    with pytest.raises(SignInAgain):
        check({}, status=401)


def test_forbidden_at_the_top_is_a_403_page_naming_the_scope() -> None:
    with pytest.raises(AccessDenied) as caught:
        check({"data": {"a": None}, "errors": [err("FORBIDDEN", ["a"], required_scope="audit:read")]})
    assert caught.value.error.required_scope == "audit:read"


def test_forbidden_deeper_down_leaves_the_page_with_a_note() -> None:
    result = check({"data": {"a": {"secret": None}}, "errors": [err("FORBIDDEN", ["a", "secret"])]})
    assert result.errors_with("FORBIDDEN")


def test_no_data_is_a_failure_with_the_gateways_errors() -> None:
    with pytest.raises(GatewayFailed) as caught:
        check({"errors": [err("BAD_USER_INPUT")]}, status=400)
    assert [e.code for e in caught.value.errors] == ["BAD_USER_INPUT"]
    with pytest.raises(GatewayFailed) as caught:
        check({}, status=502)
    assert caught.value.errors[0].code == "UNAVAILABLE"


async def test_the_client_sends_the_token_and_the_trace_of_the_page() -> None:
    import httpx
    from opentelemetry.sdk.trace import TracerProvider

    from demimas_portal.gateway import GatewayClient

    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": {"ok": True}})

    client = GatewayClient("http://gateway.test/graphql")
    client._http = httpx.AsyncClient(transport=httpx.MockTransport(answer), headers=client._http.headers)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("page") as span:
        result = await client.execute("{ ok }", token="tok-1")
        trace_id = f"{span.get_span_context().trace_id:032x}"
    assert result.data == {"ok": True}
    [request] = seen
    assert request.headers["authorization"] == "Bearer tok-1"
    assert request.headers["traceparent"].split("-")[1] == trace_id
    assert request.headers["content-type"] == "application/json"
    assert "x-demimas-purpose" not in request.headers  # the pages read no personal data
    await client.close()
