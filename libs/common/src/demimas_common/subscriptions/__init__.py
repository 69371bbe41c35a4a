"""GraphQL subscriptions of the subgraphs, fed by JetStream (docs/contracts.md, "Subscriptions"): cursors
(`cursor.py`), the per-process live fan-out (`fanout.py`) and each subscription's replay-then-live stream
(`live.py`)."""

from demimas_common.subscriptions.cursor import check_cursor, encode_cursor, parse_cursor
from demimas_common.subscriptions.fanout import EventFanout, Feed, LiveEvent, subject_matches
from demimas_common.subscriptions.live import EventQuery, live_events, shown_code, visible_in_region

__all__ = [
    "EventFanout",
    "EventQuery",
    "Feed",
    "LiveEvent",
    "check_cursor",
    "encode_cursor",
    "live_events",
    "parse_cursor",
    "shown_code",
    "subject_matches",
    "visible_in_region",
]
