"""Video ids reach the provider percent-encoded, as one path segment, whatever they hold: a real server on
127.0.0.1 records the request line the poller's HTTP client (aiohttp) sends, and the id read back from it."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote

import pytest
from videohook.adapters.provider_client import fetch_video, make_http_client
from videohook.config import ProviderSettings
from videohook.domain.normalize import read_answer

from devtools.webhook_receiver import WebhookReceiver

IDS = ["video_1", "a b", "x%2F..", "...", "v:1;2=3&4", "é-视频", "a+b", "%2e%2e"]


async def poll(provider: ProviderSettings, video_id: str) -> None:
    async with make_http_client(2) as http:
        await fetch_video(http, provider, "tok-paths", video_id, None)


@pytest.mark.parametrize("video_id", IDS)
def test_the_video_id_is_one_encoded_path_segment_in_the_poll_and_the_content_url(video_id):
    with WebhookReceiver() as gateway:
        provider = ProviderSettings("gw", gateway.url(""), "videohook/gw")
        asyncio.run(poll(provider, video_id))
        (request,) = gateway.received()
        prefix = "/v1/videos/"
        assert request.path.startswith(prefix)
        segment = request.path[len(prefix) :]
        assert "/" not in segment and unquote(segment) == video_id
        # the content endpoint of a completed video without a link names the same segment
        content_url = read_answer({"status": "completed"}, base_url=provider.base_url, video_id=video_id)
        assert content_url.fields["content_url"] == f"{provider.base_url}{prefix}{segment}/content"
