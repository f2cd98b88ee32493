"""Alert payloads (provisioner.engine.alerts): formats, and never a secret value or the webhook URL."""

from __future__ import annotations

import json

import pytest

from provisioner.engine import alerts

ALERT = alerts.Alert(
    "expiring", "tenant-1", "mail", "s", "key-1", "abc", "2026-06-01T00:00:00Z", "mail: secret abc... expires"
)


def test_generic_payload_lists_events() -> None:
    body = alerts.payload([ALERT], "generic")
    assert body["source"] == "provisioner" and body["events"][0]["kind"] == "expiring"
    assert body["events"][0]["key_id"] == "key-1"


@pytest.mark.parametrize("fmt", ["teams", "slack"])
def test_chat_formats_are_text_messages(fmt: str) -> None:
    body = alerts.payload([ALERT], fmt)
    assert "[expiring] tenant-1: mail: secret abc... expires" in body["text"]
    assert set(body) == ({"text"} if fmt == "slack" else {"@type", "@context", "summary", "text"})


def test_a_dead_webhook_is_one_line_without_the_url() -> None:
    url = "http://127.0.0.1:9/hook-with-token-in-path"
    line = alerts.post(url, "generic", [ALERT])
    assert line is not None and url not in line and "not delivered" in line
    assert alerts.post(url, "generic", []) is None  # nothing to say: no request
    assert "value" not in json.dumps(alerts.payload([ALERT], "generic"))
