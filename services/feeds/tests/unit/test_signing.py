"""Signatures checked by an independent implementation of the specification (the `standardwebhooks` package)."""

from __future__ import annotations

import base64
import datetime as dt
import os

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from demimas_feeds.domain.signing import headers, secret_key, sign, verify


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def as_dict(pairs: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in pairs}


def test_a_signature_verifies_with_the_reference_implementation() -> None:
    secret = new_secret()
    body = b'{"type":"demimas.registry.worker.registered","data":{"villageCode":"3201012001"}}'
    now = int(dt.datetime.now(dt.UTC).timestamp())
    signed = as_dict(headers([secret_key(secret)], "01939e6b-0000-7000-8000-000000000001", now, body))
    assert Webhook(secret).verify(body, signed) == {
        "type": "demimas.registry.worker.registered",
        "data": {"villageCode": "3201012001"},
    }


def test_a_changed_body_id_or_secret_does_not_verify() -> None:
    secret = new_secret()
    body = b'{"a":1}'
    now = int(dt.datetime.now(dt.UTC).timestamp())
    signed = as_dict(headers([secret_key(secret)], "msg-1", now, body))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":2}', signed)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**signed, "webhook-id": "msg-2"})
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, signed)


def test_during_rotation_both_secrets_sign_and_each_one_verifies() -> None:
    old, new = new_secret(), new_secret()
    body = '{"note":"bytes as sent, ü"}'.encode()
    now = int(dt.datetime.now(dt.UTC).timestamp())
    signature = sign([old, new], "msg-9", now, body)
    assert len(signature.split(" ")) == 2
    assert all(part.startswith("v1,") for part in signature.split(" "))
    signed = {"webhook-id": "msg-9", "webhook-timestamp": str(now), "webhook-signature": signature}
    for secret in (old, new):
        Webhook(secret).verify(body, signed, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, signed, json_parse=False)


def test_signature_equals_the_reference_signature() -> None:
    secret = new_secret()
    stamp = dt.datetime(2026, 12, 6, 12, 0, 0, tzinfo=dt.UTC)
    ours = sign(secret, "id-1", int(stamp.timestamp()), b"{}")
    assert ours == Webhook(secret).sign("id-1", stamp, b"{}")


def test_a_secret_that_is_not_base64_is_refused() -> None:
    with pytest.raises(ValueError, match="base64"):
        secret_key("whsec_not base64!")
    with pytest.raises(ValueError, match="no secret"):
        sign([], "id", 0, b"")


def test_verify_accepts_what_the_reference_signs_and_nothing_else() -> None:
    old, new = new_secret(), new_secret()
    stamp = dt.datetime(2026, 12, 6, 12, 0, 0, tzinfo=dt.UTC)
    now = stamp.timestamp()
    reference = Webhook(new).sign("id-2", stamp, b'{"a":1}')
    assert verify([old, new], "id-2", str(int(now)), b'{"a":1}', reference, now=now)
    assert verify([new], "id-2", str(int(now)), b'{"a":1}', f"v1,bm90IGl0 {reference}", now=now)
    assert not verify([old], "id-2", str(int(now)), b'{"a":1}', reference, now=now)  # another secret
    assert not verify([new], "id-3", str(int(now)), b'{"a":1}', reference, now=now)  # another id
    assert not verify([new], "id-2", str(int(now)), b'{"a":2}', reference, now=now)  # another body
    assert not verify([new], "id-2", str(int(now)), b'{"a":1}', reference, now=now + 301)  # too old
    assert not verify([new], "id-2", "soon", b'{"a":1}', reference, now=now)
    assert not verify([], "id-2", str(int(now)), b'{"a":1}', reference, now=now)
