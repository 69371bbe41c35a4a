"""Types that several subgraphs define: declared once here, `@shareable`, and so identical everywhere (composition
refuses a shared type whose definitions differ between subgraphs)."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry

__all__ = ["PageInfo"]


@strawberry.federation.type(shareable=True, description="Relay page information.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, cursors: Sequence[str], *, has_next: bool, after: str | None) -> PageInfo:
        """The page info of a forward page whose edges have `cursors`; a page after a cursor has one before it."""
        return cls(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )
