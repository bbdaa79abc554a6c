"""Request bodies as gunicorn hands them over: with a declared length, streamed (chunked),
over the limit, and cut short. Raw HTTP on loopback, so nothing in between re-frames them."""

import json
import socket

import pytest
from conftest import gunicorn_server

GOOD = {"campaign_id": "body-1", "marketplace": "US", "category": "home",
        "campaign_type": "lightning_deal", "duration_days": 1, "goal_alignment_score": 0.5,
        "mou_signed": False, "material_delay_days": 8, "resource_value_usd": 20000,
        "committed_ad_budget_usd": 3000, "attribution_enabled": False}
LIMIT = 4000


@pytest.fixture(scope="module")
def port(trained, tmp_path_factory):
    root, _ = trained
    with gunicorn_server(root, tmp_path_factory.mktemp("bodies"),
                         RISKMODEL_MAX_BODY_BYTES=str(LIMIT),
                         RISKMODEL_LOG_PREDICTIONS="false") as p:
        yield p


def _exchange(port: int, head: bytes, body: bytes = b"", shut: bool = False) -> tuple[int, dict]:
    """Send a raw request; the status and the JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + body)
        if shut:  # the client sends no more
            s.shutdown(socket.SHUT_WR)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    header, _, payload = raw.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in header.lower():
        payload = _unchunk(payload)
    return status, json.loads(payload) if payload else {}


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size, _, rest = data.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out, data = out + rest[:n], rest[n + 2:]
    return out


def _head(length: int | None) -> bytes:
    framing = (f"Content-Length: {length}" if length is not None
               else "Transfer-Encoding: chunked")
    return (f"POST /v1/score HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
            f"\r\n{framing}\r\nConnection: close\r\n\r\n").encode()


def _chunked(body: bytes, size: int = 100) -> bytes:
    parts = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_declared_length_and_chunked_give_the_same_score(port):
    body = json.dumps(GOOD).encode()
    status, plain = _exchange(port, _head(len(body)), body)
    assert status == 200
    status, streamed = _exchange(port, _head(None), _chunked(body))
    assert status == 200
    assert streamed["results"] == plain["results"]
    assert plain["results"][0]["campaign_id"] == "body-1"


@pytest.mark.parametrize("chunked", [False, True], ids=["declared-length", "chunked"])
def test_body_over_the_limit_is_413(port, chunked):
    body = json.dumps(dict(GOOD, pad="y" * LIMIT)).encode()
    head = _head(None if chunked else len(body))
    status, problem = _exchange(port, head, _chunked(body) if chunked else body)
    assert status == 413
    assert problem["type"] == "/problems/body-too-large"
    assert f"{LIMIT}" in problem["detail"]


def test_body_cut_short_is_400(port):
    body = json.dumps(GOOD).encode()
    status, problem = _exchange(port, _head(len(body) + 50), body, shut=True)
    assert status == 400
    assert problem["type"] == "/problems/incomplete-body"
    assert f"after {len(body)} of the {len(body) + 50} bytes" in problem["detail"]


def test_a_malformed_chunked_body_is_400(port):
    status, problem = _exchange(port, _head(None), b"zz\r\n{}\r\n0\r\n\r\n")
    assert status == 400
    assert problem["type"] == "/problems/incomplete-body"
