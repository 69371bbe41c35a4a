"""The request error of the gateway's pipeline: the request cannot be executed at all."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

__all__ = ["RequestError", "locations"]


class RequestError(Exception):
    """The request cannot be executed at all (GraphQL over HTTP: no `data` in the response)."""

    def __init__(
        self,
        message: str,
        code: str,
        *,
        locations: list[dict[str, int]] | None = None,
        status: int = 400,
        always_status: bool = False,
    ):
        """`always_status`: answer with `status` whatever the accepted media type (limits, rejections), where
        other request errors are 200 under the legacy `application/json`."""
        super().__init__(message)
        self.message = message
        self.code = code
        self.locations = locations
        self.status = status
        self.always_status = always_status

    def as_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "extensions": {"code": self.code}}
        if self.locations:
            error["locations"] = self.locations
        return error


def locations(error: GraphQLError) -> list[dict[str, int]] | None:
    """A graphql-core error's locations in the response's form."""
    if not error.locations:
        return None
    return [{"line": loc.line, "column": loc.column} for loc in error.locations]
