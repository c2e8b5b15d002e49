"""The logit stage's prober over a probe channel: chat logprobs where the reply has them, greedy
text where not, and failures noted rather than raised (real HTTP, stand-in endpoints)."""

from __future__ import annotations

from provenance.fingerprint.channel.api import ApiChannel
from provenance.fingerprint.logits.endpoint import ChannelProber
from provenance.standins.tokencount import CANNED_LOGPROBS, EndpointConfig, StandInServer


def count(text: str, parse: bool) -> int:
    return len(text.split())


def test_chat_logprobs_through_an_api_channel():
    config = EndpointConfig("chatml", "segments", "", 0)
    with StandInServer(count, config) as server, ApiChannel(server.base + "/v1", "m") as channel:
        prober = ChannelProber(channel, max_requests=3, top_k=2)
        obs = prober.probe("p1", "The quick brown fox jumps over the lazy dog")
    assert prober.api == "chat-logprobs" and obs is not None
    assert obs.messages == (
        {"role": "user", "content": "The quick brown fox jumps over the lazy dog"},
    )
    token, logprob = CANNED_LOGPROBS[0]
    assert obs.tokens[0].text == token and obs.tokens[0].logprob == logprob
    assert obs.tokens[0].top == CANNED_LOGPROBS[:2]
    assert prober.requests == 1


def test_a_failed_reply_is_noted_not_raised():
    config = EndpointConfig("chatml", "segments", "", 0, fault="http-500", fault_count=100)
    with (
        StandInServer(count, config) as server,
        ApiChannel(server.base + "/v1", "m", max_attempts=1) as channel,
    ):
        prober = ChannelProber(channel, max_requests=3)
        assert prober.probe("p1", "some words to send") is None
    assert "HTTP 500" in prober.notes[0] and prober.api is None
