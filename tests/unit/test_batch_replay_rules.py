"""Which batched requests may be re-sent after an ambiguous failure (an inner 504)."""

from __future__ import annotations

from kiota_abstractions.request_information import RequestInformation

from provisioner.graph.batch import Request

BASE = "https://graph.microsoft.com/v1.0/applications/0d5b0c4e-8a4a-4c3e-9c55-3c8f1b2a7e10"


def _info(path: str) -> RequestInformation:
    info = RequestInformation()
    info.url = BASE + path
    return info


def test_add_password_is_never_replayed() -> None:
    assert not Request(_info("/addPassword")).replayable


def test_a_request_can_opt_out_of_replay_after_a_timeout() -> None:
    """removePassword: a repeat of a removal that ran answers 400, so the batcher must not re-send it."""
    assert Request(_info("/removePassword")).replayable
    assert not Request(_info("/removePassword"), replay_ambiguous=False).replayable
    assert Request(_info("")).replayable
