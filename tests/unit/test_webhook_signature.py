"""The webhook signature a receiver checks (docs/webhooks.md)."""

from __future__ import annotations

import hashlib
import hmac

from callcenter.outbound.webhooks import sign, verify

SECRET = "k" * 40
BODY = '{"id":"1","event":"call.ended","at":"2030-03-04T10:00:00+00:00","data":{}}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"1900000000.{BODY}".encode(),
                        hashlib.sha256).hexdigest()
    assert sign(SECRET, 1900000000, BODY) == "sha256=" + expected
    assert sign(SECRET, "1900000000", BODY.encode()) == "sha256=" + expected
    # a fixed vector, so a change of the scheme cannot pass unnoticed
    assert sign("secret", 0, "") == (
        "sha256=3445798a051818ef95def46c2eb62b43d377ce6e3c29b4d0aec3da0e59577f79")


def test_verify_accepts_only_the_exact_body_secret_and_fresh_time() -> None:
    sig = sign(SECRET, 1900000000, BODY)
    assert verify(SECRET, 1900000000, BODY, sig)
    assert verify(SECRET, "1900000000", BODY.encode(), sig, now=1900000100)
    assert not verify(SECRET, 1900000000, BODY.replace("ended", "offered"), sig)
    assert not verify(SECRET + "x", 1900000000, BODY, sig)
    assert not verify(SECRET, 1900000001, BODY, sig)  # the timestamp is signed too
    assert not verify(SECRET, 1900000000, BODY, sig, now=1900000301)  # replayed late
    assert not verify(SECRET, "soon", BODY, sig, now=1900000000)
    assert not verify(SECRET, 1900000000, BODY, sig.upper())
