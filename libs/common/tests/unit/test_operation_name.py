"""The operation name recorded for a request: the client's, with a gateway fetch's `__<subgraph>__<n>` removed."""

from __future__ import annotations

import pytest

from demimas_common.graphql.operation_name import MAX_LENGTH, client_operation_name


@pytest.mark.parametrize(
    ("sent", "recorded"),
    [
        ("WorkersPage", "WorkersPage"),
        ("WorkersPage__registry__0", "WorkersPage"),
        ("Tracker__pillars__12", "Tracker"),
        ("Case__review__registry__3", "Case__review"),  # the client's own double underscores stay
        ("Op__registry__0", "Op"),  # our gateway's name for an anonymous operation
        ("x__y", "x__y"),
        ("", None),
        (None, None),
    ],
)
def test_client_operation_name(sent: str | None, recorded: str | None) -> None:
    assert client_operation_name(sent) == recorded


def test_a_long_name_is_cut_to_what_the_event_allows() -> None:
    assert client_operation_name("Q" * 500) == "Q" * MAX_LENGTH
