"""A fault-injecting HTTP proxy on 127.0.0.1 in front of the local AWS (moto): the AWS faults, over real HTTP.

Point one service at it with boto3's own variable (``AWS_ENDPOINT_URL_DYNAMODB=<proxy url>``): every request
is forwarded to the upstream endpoint unless a rule says otherwise. Rules match an operation
(``"dynamodb:PutItem"``, ``"sns:PublishBatch"``, ``"secretsmanager:GetSecretValue"``, or ``"*"``) and inject:

- ``throttle``     400 ThrottlingException (DynamoDB: ProvisionedThroughputExceeded is ``provisioned``)
- ``internal``     500 InternalServerError / InternalError
- ``unavailable``  503 ServiceUnavailable
- ``drop``         the connection closes without an answer
- ``lost_answer``  the request IS forwarded (the write happens), then the caller gets a 500: the ambiguous case
- ``partial``      (sns:PublishBatch only) the entries chosen by ``fail_entries`` are not forwarded and come back
                   in the answer's ``Failed`` list, the rest is published

Every rule is bounded by ``times`` (None: until removed), applies to every ``every``-th matching request, and
may narrow its match with ``match`` (a predicate on the request body, e.g. only writes of a pending event) and
``max_attempt`` (only botocore's tries up to that number, read from its ``amz-sdk-request`` header: with 2,
a request fails at most twice and its third try goes through).
Standard library only; binds loopback only.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

FAULTS = ("throttle", "provisioned", "internal", "unavailable", "drop", "lost_answer", "partial")
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_SNS_NS = "http://sns.amazonaws.com/doc/2010-03-31/"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade"}
_REPLACED = {"server", "date", "content-type"}  # set by this server itself


@dataclass
class FaultRule:
    operation: str  # "<service>:<Action>" or "*"
    fault: str
    times: int | None = None  # injections left; None = unbounded
    every: int = 1  # inject on every n-th matching request
    fail_entries: Callable[[int, str], bool] | None = None  # partial: (position, message body) -> fail it?
    match: Callable[[bytes], bool] | None = None  # only requests whose body satisfies this
    max_attempt: int | None = None  # only botocore's attempts up to this number
    seen: int = 0

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; known: {', '.join(FAULTS)}")
        if self.fault == "partial" and self.operation != "sns:PublishBatch":
            raise ValueError("the partial fault applies to sns:PublishBatch only")
        if self.every < 1:
            raise ValueError("every must be at least 1")


class FaultProxy:
    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0) -> None:
        if host != "127.0.0.1":
            raise ValueError("the fault proxy binds 127.0.0.1 only")
        parts = urlsplit(upstream)
        if parts.hostname not in ("127.0.0.1", "localhost") or parts.port is None:
            raise ValueError(f"the upstream must be a loopback endpoint with a port, not {upstream!r}")
        self._upstream = (parts.hostname, parts.port)
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self.injected: Counter[str] = Counter()  # "<operation> <fault>" -> count
        self.forwarded: Counter[str] = Counter()  # operation -> count
        self._server = _Server((host, port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fault-proxy", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add(self, operation: str, fault: str, **options: Any) -> FaultRule:
        rule = FaultRule(operation, fault, **options)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def total_injected(self) -> int:
        with self._lock:
            return sum(self.injected.values())

    # -- request handling (handler threads) -----------------------------------------------------------
    def _pick(self, operation: str, body: bytes, attempt: int) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.operation not in ("*", operation) or rule.times == 0:
                    continue
                if rule.match is not None and not rule.match(body):
                    continue
                if rule.max_attempt is not None and attempt > rule.max_attempt:
                    continue
                rule.seen += 1
                if rule.seen % rule.every:
                    continue
                if rule.times is not None:
                    rule.times -= 1
                self.injected[f"{operation} {rule.fault}"] += 1
                return rule
        return None

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, list, bytes]:
        connection = http.client.HTTPConnection(*self._upstream, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


def operation_of(headers: dict[str, str], body: bytes) -> str:
    """`service:Action` of a signed AWS request (JSON protocols name it in X-Amz-Target, query in the body)."""
    scope = _SCOPE.search(headers.get("authorization", ""))
    service = scope.group(1) if scope else "unknown"
    target = headers.get("x-amz-target")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    action = dict(parse_qsl(body.decode("utf-8", "replace"))).get("Action", "unknown")
    return f"{service}:{action}"


def error_answer(operation: str, fault: str) -> tuple[int, str, bytes]:
    """(status, content type, body) of the error AWS would send, in the protocol of the operation."""
    status, code, message = {
        "throttle": (400, "ThrottlingException", "Rate exceeded"),
        "provisioned": (
            400,
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded",
        ),
        "internal": (500, "InternalServerError", "Internal server error"),
        "lost_answer": (500, "InternalServerError", "Internal server error"),
        "unavailable": (503, "ServiceUnavailable", "Service unavailable"),
    }[fault]
    service = operation.split(":", 1)[0]
    if service in ("sns",):  # query protocol: XML errors
        code = {"ThrottlingException": "Throttling", "InternalServerError": "InternalError"}.get(code, code)
        xml = (
            f'<ErrorResponse xmlns="{_SNS_NS}"><Error><Type>{"Sender" if status < 500 else "Receiver"}</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId>"
            "</ErrorResponse>"
        )
        return status, "text/xml", xml.encode()
    prefix = "com.amazonaws.dynamodb.v20120810#" if service == "dynamodb" else ""
    return status, "application/x-amz-json-1.0", json.dumps({"__type": prefix + code, "message": message}).encode()


def split_publish_batch(body: bytes, fail: Callable[[int, str], bool]) -> tuple[bytes, list[str]]:
    """Remove the entries `fail` picks from a PublishBatch form body; (new body, ids of the removed entries)."""
    params = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    prefix = "PublishBatchRequestEntries.member."
    entries: dict[int, list[tuple[str, str]]] = {}
    others: list[tuple[str, str]] = []
    for name, value in params:
        if name.startswith(prefix):
            position, _, rest = name[len(prefix) :].partition(".")
            entries.setdefault(int(position), []).append((rest, value))
        else:
            others.append((name, value))
    kept: list[list[tuple[str, str]]] = []
    removed: list[str] = []
    for index, member in enumerate(sorted(entries)):
        fields = dict(entries[member])
        if fail(index, fields.get("Message", "")):
            removed.append(fields["Id"])
        else:
            kept.append(entries[member])
    renumbered = [(f"{prefix}{i}.{rest}", value) for i, entry in enumerate(kept, 1) for rest, value in entry]
    return urlencode(others + renumbered).encode(), removed


def add_failed_entries(xml: bytes, failed_ids: list[str]) -> bytes:
    """Put `failed_ids` into a PublishBatch answer's Failed list, as SNS reports entries it did not take."""
    ET.register_namespace("", _SNS_NS)
    root = ET.fromstring(xml)
    result = root.find(f"{{{_SNS_NS}}}PublishBatchResult")
    if result is None:
        raise ValueError("not a PublishBatch answer")
    failed = result.find(f"{{{_SNS_NS}}}Failed")
    if failed is None:
        failed = ET.SubElement(result, f"{{{_SNS_NS}}}Failed")
    for entry_id in failed_ids:
        member = ET.SubElement(failed, f"{{{_SNS_NS}}}member")
        for name, value in (
            ("Id", entry_id),
            ("Code", "InternalError"),
            ("Message", "Injected by the fault proxy"),
            ("SenderFault", "false"),
        ):
            ET.SubElement(member, f"{{{_SNS_NS}}}{name}").text = value
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)


def _empty_publish_batch_answer() -> bytes:
    return (
        f'<PublishBatchResponse xmlns="{_SNS_NS}"><PublishBatchResult><Successful/><Failed/></PublishBatchResult>'
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></PublishBatchResponse>"
    ).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of concurrent polls would see SYNs dropped and
    # retried a second later, which no real gateway does.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _dispatch(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        operation = operation_of(headers, body)
        attempt = re.search(r"attempt=(\d+)", headers.get("amz-sdk-request", ""))
        rule = proxy._pick(operation, body, int(attempt.group(1)) if attempt else 1)
        fault = rule.fault if rule is not None else None
        if fault == "drop":
            self.close_connection = True
            return
        if fault in ("throttle", "provisioned", "internal", "unavailable"):
            self._send(*error_answer(operation, fault))
            return
        forward_headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        failed_ids: list[str] = []
        if fault == "partial" and rule is not None and rule.fail_entries is not None:
            body, failed_ids = split_publish_batch(body, rule.fail_entries)
            if "PublishBatchRequestEntries.member.1.Id" not in body.decode():
                self._send(200, "text/xml", add_failed_entries(_empty_publish_batch_answer(), failed_ids))
                return
        forward_headers["Content-Length"] = str(len(body))
        status, upstream_headers, answer = proxy._forward(self.command, self.path, forward_headers, body)
        with proxy._lock:
            proxy.forwarded[operation] += 1
        if fault == "lost_answer":
            self._send(*error_answer(operation, fault))
            return
        if failed_ids and status == 200:
            answer = add_failed_entries(answer, failed_ids)
        content_type = dict((k.lower(), v) for k, v in upstream_headers).get("content-type", "text/plain")
        self._send(status, content_type, answer, upstream_headers)

    def _send(self, status: int, content_type: str, body: bytes, headers: list | None = None) -> None:
        self.send_response(status)
        for name, value in headers or []:
            if name.lower() not in _HOP_BY_HOP | _REPLACED:
                self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch
