"""API input rules: each refusal is clear and names the parameter."""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from videohook.domain.ssrf import DestinationRefused, check_destination
from videohook.domain.validation import InvalidRequest, parse_track_request

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
        ({"provider": "hingnet", "video_id": "."}, "video_id"),
        ({"provider": "hingnet", "video_id": ".."}, "video_id"),
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


# -- one rule for addresses: the API refuses what delivery would refuse, whatever the host resolves to ------
ISSUE_HOSTS = ["2130706433", "127.1", "0x7f.0.0.1", "0177.0.0.1", "[64:ff9b::7f00:1]", "[::ffff:0:7f00:1]"]


def callback(url, allow_loopback=False):
    return parse({"provider": "hingnet", "video_id": "v", "callback_url": url}, allow_loopback=allow_loopback)


@pytest.mark.parametrize("host", ISSUE_HOSTS)
def test_numeric_and_mapped_spellings_of_loopback_are_refused(host):
    with pytest.raises(InvalidRequest) as caught:
        callback(f"https://{host}/hook?token=s3cr3t")
    assert caught.value.param == "callback_url" and "loopback" in caught.value.message
    assert "s3cr3t" not in caught.value.message


def test_the_development_flag_allows_loopback_spellings_but_not_gateway_forms():
    assert callback("http://2130706433:8080/hook", allow_loopback=True).callback_url == "http://2130706433:8080/hook"
    assert callback("http://127.1:8080/hook", allow_loopback=True).callback_url
    for host in ("[64:ff9b::7f00:1]", "[::ffff:0:7f00:1]", "0x0a.0.0.1", "[fe80::1]"):
        with pytest.raises(InvalidRequest):
            callback(f"http://{host}/hook", allow_loopback=True)


@pytest.mark.parametrize(
    ("host", "rule"),
    [
        ("a" * 64 + ".example.com", "63 characters"),
        (".".join(["a" * 63] * 4) + ".com", "253 characters"),
        ("hooks..example.com", "label empty"),
        ("example.123", "not a valid IPv4 address"),
        ("localhost", "localhost"),
        ("hooks.localhost", "localhost"),
    ],
)
def test_a_host_delivery_would_refuse_is_a_clear_400(host, rule):
    with pytest.raises(InvalidRequest, match=rule) as caught:
        callback(f"https://{host}/hook")
    assert caught.value.param == "callback_url"


def test_public_hosts_in_any_spelling_are_accepted():
    for url in ("https://134744072/hook", "https://[2606:4700::1111]/h", "https://b\u00fccher.example/h"):
        assert callback(url).callback_url == url


def public(host, port):
    return ["93.184.215.14"]


def loopback(host, port):
    return ["127.0.0.1"]


def delivery_accepts(url, resolve, allow_loopback):
    try:
        check_destination(url, resolve, allow_loopback=allow_loopback)
    except DestinationRefused:
        return False
    return True


_v4 = st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1))
_v4_spelling = st.one_of(
    _v4.map(str),
    _v4.map(lambda a: str(int(a))),
    _v4.map(lambda a: f"0x{int(a):x}"),
    _v4.map(lambda a: ".".join(f"0{int(p):o}" for p in str(a).split("."))),
    _v4.map(lambda a: f"{str(a).split('.')[0]}.{int(a) & 0xFFFFFF}"),
    st.sampled_from(["127.1", "10.1", "0x7f.1", "1.2.3.4.5", "256.1.1.1", "08.1", "0x"]),
)
_v6_literal = st.one_of(
    _v4.map(lambda a: f"[::ffff:{a}]"),
    _v4.map(lambda a: f"[::ffff:0:{a}]"),
    _v4.map(lambda a: f"[64:ff9b::{a}]"),
    _v4.map(lambda a: f"[2002:{int(a) >> 16:x}:{int(a) & 0xFFFF:x}::1]"),
    st.builds(ipaddress.IPv6Address, st.integers(0, 2**128 - 1)).map(lambda a: f"[{a}]"),
    st.sampled_from(["[::1]", "[fe80::1%25eth0]", "[v1.x]", "[::zz]"]),
)
_label = st.text(alphabet="abcxyz019-_", min_size=0, max_size=70)
_name = st.one_of(
    st.lists(_label, min_size=1, max_size=5).map(".".join),
    st.lists(st.text(alphabet="ab", min_size=60, max_size=63), min_size=3, max_size=5).map(".".join),
    st.sampled_from(["localhost", "LocalHost.", "hooks.localhost", "b\u00fccher.example", "\uff11\uff12\uff17.1"]),
    st.text(min_size=1, max_size=20),
)


@settings(max_examples=400, deadline=None)
@given(
    scheme=st.sampled_from(["https", "http", "ftp"]),
    host=st.one_of(_v4_spelling, _v6_literal, _name),
    port=st.sampled_from(["", ":443", ":8080", ":0", ":99999"]),
    allow_loopback=st.booleans(),
)
def test_the_api_and_delivery_agree_on_every_host(scheme, host, port, allow_loopback):
    url = f"{scheme}://{host}{port}/hook?token=s3cr3t"
    try:
        callback(url, allow_loopback)
        api_accepts = True
    except InvalidRequest as refused:
        api_accepts = False
        assert "s3cr3t" not in refused.message
    # delivery refuses with DestinationRefused and nothing else (never a crash, never "unresolved" here)
    reachable = delivery_accepts(url, public, allow_loopback) or delivery_accepts(url, loopback, allow_loopback)
    assert api_accepts == reachable


def test_dot_segments_are_refused_as_video_ids_and_other_dots_are_not():
    for value in (".", ".."):
        with pytest.raises(InvalidRequest, match=r"must not be '\.' or '\.\.'"):
            parse({"provider": "hingnet", "video_id": value})
    for value in ("...", ".a", "a..", "v.1", "%2e%2e"):
        assert parse({"provider": "hingnet", "video_id": value}).video_id == value
