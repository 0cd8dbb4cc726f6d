"""API input rules: each refusal is clear and names the parameter."""

import pytest
from videohook.validation import InvalidRequest, parse_track_request

PROVIDERS = {"hingnet", "skyengine"}


def parse(body, allow_loopback=False):
    return parse_track_request(body, providers=PROVIDERS, allow_loopback=allow_loopback)


def test_minimal_and_full_requests():
    assert parse({"provider": "hingnet", "video_id": "video_1"}).video_id == "video_1"
    full = parse(
        {
            "provider": "skyengine",
            "video_id": "video_2",
            "callback_url": "https://hooks.example.com/videohook",
            "metadata": {"order": "42"},
            "duration": 6,
        }
    )
    assert full.callback_url == "https://hooks.example.com/videohook"
    assert full.metadata == {"order": "42"}
    assert full.duration == 6


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"video_id": "v"}, "provider"),
        ({"provider": "openai", "video_id": "v"}, "provider"),
        ({"provider": 1, "video_id": "v"}, "provider"),
        ({"provider": "hingnet"}, "video_id"),
        ({"provider": "hingnet", "video_id": ""}, "video_id"),
        ({"provider": "hingnet", "video_id": "x" * 201}, "video_id"),
        ({"provider": "hingnet", "video_id": "a\nb"}, "video_id"),
        ({"provider": "hingnet", "video_id": "a/b"}, "video_id"),
        ({"provider": "hingnet", "video_id": "v", "metadata": {str(i): "x" for i in range(17)}}, "metadata"),
        ({"provider": "hingnet", "video_id": "v", "metadata": {"k" * 65: "x"}}, "metadata"),
        ({"provider": "hingnet", "video_id": "v", "metadata": {"k": "x" * 513}}, "metadata"),
        ({"provider": "hingnet", "video_id": "v", "metadata": {"k": 1}}, "metadata"),
        ({"provider": "hingnet", "video_id": "v", "metadata": ["k"]}, "metadata"),
        ({"provider": "hingnet", "video_id": "v", "duration": 0}, "duration"),
        ({"provider": "hingnet", "video_id": "v", "duration": "6"}, "duration"),
        ({"provider": "hingnet", "video_id": "v", "duration": True}, "duration"),
        ({"provider": "hingnet", "video_id": "v", "callback_url": "http://hooks.example.com/x"}, "callback_url"),
        ({"provider": "hingnet", "video_id": "v", "callback_url": "ftp://hooks.example.com/x"}, "callback_url"),
        ({"provider": "hingnet", "video_id": "v", "callback_url": "/relative"}, "callback_url"),
        ({"provider": "hingnet", "video_id": "v", "callback_url": "https://10.0.0.5/x"}, "callback_url"),
        ({"provider": "hingnet", "video_id": "v", "callback_url": "https://169.254.169.254/x"}, "callback_url"),
        ({"provider": "hingnet", "video_id": "v", "callback_url": "https://127.0.0.1/x"}, "callback_url"),
        ({"provider": "hingnet", "video_id": "v", "callback_url": "https://u:p@hooks.example.com/"}, "callback_url"),
        ({"provider": "hingnet", "video_id": "v", "extra": 1}, "extra"),
    ],
)
def test_bad_input_is_refused_naming_the_parameter(body, param):
    with pytest.raises(InvalidRequest) as caught:
        parse(body)
    assert caught.value.param == param
    assert caught.value.message


@pytest.mark.parametrize("body", [None, [], "x", 3])
def test_body_must_be_an_object(body):
    with pytest.raises(InvalidRequest, match="JSON object"):
        parse(body)


def test_loopback_http_callback_only_with_the_development_flag():
    body = {"provider": "hingnet", "video_id": "v", "callback_url": "http://127.0.0.1:8080/hook"}
    with pytest.raises(InvalidRequest):
        parse(body)
    assert parse(body, allow_loopback=True).callback_url == "http://127.0.0.1:8080/hook"
    with pytest.raises(InvalidRequest):
        parse({**body, "callback_url": "http://10.1.2.3/hook"}, allow_loopback=True)
