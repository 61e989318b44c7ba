"""The webhook channel's signature (adapters.py): a receiver can check a message came from
us and is fresh."""

import json

from services.notifications.adapters import sign, verify_signature


def test_a_signed_webhook_verifies_and_a_tampered_or_stale_one_does_not():
    body = json.dumps({"case": "case-1", "title": "【重大事项】"}, ensure_ascii=False).encode()
    header = sign("s3cret", body, timestamp=1_700_000_000)
    assert verify_signature("s3cret", body, header, now=1_700_000_010)
    assert not verify_signature("s3cret", body + b" ", header, now=1_700_000_010)
    assert not verify_signature("other", body, header, now=1_700_000_010)
    assert not verify_signature("s3cret", body, header, now=1_700_001_000)  # replayed later
    assert not verify_signature("s3cret", body, "garbage", now=1_700_000_010)
