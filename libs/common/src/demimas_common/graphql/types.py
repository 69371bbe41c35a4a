"""Types that several subgraphs define: declared once here, `@shareable`, identical everywhere."""

from __future__ import annotations

import strawberry

__all__ = ["PageInfo"]


@strawberry.federation.type(shareable=True, description="Relay page information.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None
