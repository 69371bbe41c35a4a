"""The hash chain's verification names each kind of tampering at the right record (pure, no I/O)."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import rfc8785

from demimas_audit.domain.chain import GENESIS, ChainProblem, ProblemKind, Record, as_doubles, canonical, link, verify


def chain(n: int) -> list[Record]:
    records, prev = [], GENESIS
    for seq in range(1, n + 1):
        event = {"id": f"e{seq}", "type": "demimas.registry.worker.registered", "data": {"n": seq, "b": [1, "x"]}}
        h = link(prev, event)
        records.append(Record(seq, event, prev, h))
        prev = h
    return records


def check(records: list[Record], head: Record, **kw: Any) -> list[ChainProblem]:
    _, problems = verify(
        records, first_seq=1, last_seq=head.seq, prev_hash=GENESIS, head_seq=head.seq, head_hash=head.hash, **kw
    )
    return problems


def kinds(problems: list[ChainProblem]) -> list[tuple[int, ProblemKind]]:
    return [(p.seq, p.kind) for p in problems]


def test_canonical_json_is_rfc8785() -> None:
    assert canonical({"b": 1, "a": [True, None, "é"]}) == b'{"a":[true,null,"\xc3\xa9"],"b":1}'


def test_an_intact_chain_has_no_problem() -> None:
    records = chain(5)
    assert check(records, records[-1]) == []


def test_a_changed_event_is_modified() -> None:
    records = chain(5)
    records[2] = replace(records[2], event={**records[2].event, "type": "forged"})
    assert kinds(check(records, records[-1])) == [(3, ProblemKind.MODIFIED)]


def test_a_rewritten_hash_is_caught_by_the_next_link() -> None:
    records = chain(5)
    forged = {**records[2].event, "type": "forged"}
    records[2] = replace(records[2], event=forged, hash=link(records[2].prev_hash, forged))
    assert kinds(check(records, records[-1])) == [(3, ProblemKind.MODIFIED)]


def test_the_last_record_rewritten_is_caught_by_the_head_or_a_checkpoint() -> None:
    records = chain(3)
    head = records[-1]
    forged = {**head.event, "type": "forged"}
    records[-1] = replace(head, event=forged, hash=link(head.prev_hash, forged))
    assert kinds(check(records, head)) == [(3, ProblemKind.MODIFIED)]
    _, problems = verify(
        records, first_seq=1, last_seq=3, prev_hash=GENESIS, head_seq=3, head_hash=None, anchors={3: head.hash}
    )
    assert kinds(problems) == [(3, ProblemKind.MODIFIED)]


def test_removed_records_are_named() -> None:
    records = chain(6)
    head = records[-1]
    assert kinds(check(records[:2] + records[4:], head)) == [(3, ProblemKind.REMOVED), (4, ProblemKind.REMOVED)]
    assert kinds(check(records[:5], head)) == [(6, ProblemKind.REMOVED)]  # the tail, below the head


def test_a_record_beyond_the_head_is_inserted() -> None:
    records = chain(4)
    head = records[-1]
    event = {"id": "forged", "type": "demimas.registry.worker.registered", "data": {}}
    extra = Record(5, event, head.hash, link(head.hash, event))
    assert kinds(check([*records, extra], head)) == [(5, ProblemKind.INSERTED)]


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return "".join(
            chr(
                rng.choice(
                    [
                        rng.randrange(0, 0x80),
                        rng.randrange(0x80, 0x3000),
                        rng.randrange(0x1F300, 0x1F600),
                        rng.randrange(0, 0x20),
                    ]
                )
            )
            for _ in range(rng.randrange(0, 12))
        )
    if kind == 1:
        return rng.choice([0, -1, 7, 2**31, -(2**52), 2**53 - 1, 2**53, 10**20])
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return rng.choice([0.5, 1e-7, 1e21, -0.0, 123.456, 3.0])
    if kind in (4, 5):
        return {
            "".join(chr(rng.randrange(0x20, 0x7F)) for _ in range(rng.randrange(1, 6)))
            if rng.random() < 0.9
            else "é" + str(rng.random()): _random_value(rng, depth + 1)
            for _ in range(rng.randrange(0, 5))
        }
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))]


def test_the_fast_canonical_form_is_byte_for_byte_rfc8785() -> None:
    rng = random.Random(8785)
    for _ in range(3000):
        value = {"data": _random_value(rng), "id": str(rng.random())}
        assert canonical(value) == rfc8785.dumps(as_doubles(value)), value
