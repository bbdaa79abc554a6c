"""Requests as `riskmodel serve` (granian) hands them to the app, and those granian answers
itself: bodies with a declared length, streamed (chunked), over the limit and cut short; the
size of a request head; requests framed two ways at once (smuggling). Raw HTTP on loopback,
so nothing in between re-frames them; every response on the connection is read, so a
request hidden in another's body would show up as a second answer.

granian (hyper underneath) answers a request it cannot parse itself, with an empty body and
``connection: close``: 400 for malformed framing or header lines, 431 for a head over the
limit or more than 100 header fields, 414 for a URL over 65,534 bytes.
"""

import json
import socket

import pytest
from conftest import running_server

from service.server import MAX_HEAD_BYTES

GOOD = {"campaign_id": "body-1", "marketplace": "US", "category": "home",
        "campaign_type": "lightning_deal", "duration_days": 1, "goal_alignment_score": 0.5,
        "mou_signed": False, "material_delay_days": 8, "resource_value_usd": 20000,
        "committed_ad_budget_usd": 3000, "attribution_enabled": False}
LIMIT = 4000
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def port(trained, tmp_path_factory):
    root, _ = trained
    with running_server(root, tmp_path_factory.mktemp("bodies"),
                        RISKMODEL_MAX_BODY_BYTES=str(LIMIT),
                        RISKMODEL_LOG_PREDICTIONS="false") as p:
        yield p


def _responses(port: int, data: bytes, shut: bool = False) -> list[tuple[int, dict, bytes]]:
    """Send raw bytes; every response that comes back until the server closes: status,
    headers (lower-case names) and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        if shut:  # the client sends no more
            s.shutdown(socket.SHUT_WR)
        raw = b""
        try:
            while chunk := s.recv(65536):
                raw += chunk
        except ConnectionResetError:  # closed with our unread bytes still queued
            pass
    out = []
    while raw:
        head, _, raw = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        if headers.get("transfer-encoding") == "chunked":
            body, raw = _unchunk(raw)
        else:
            n = int(headers.get("content-length", 0))
            body, raw = raw[:n], raw[n:]
        out.append((int(lines[0].split(" ", 2)[1]), headers, body))
    return out


def _exchange(port: int, head: bytes, body: bytes = b"", shut: bool = False) -> tuple[int, dict]:
    """One request answered by the app: its status and JSON body."""
    [(status, _, payload)] = _responses(port, head + body, shut)
    return status, json.loads(payload) if payload else {}


def _unchunk(data: bytes) -> tuple[bytes, bytes]:
    out = b""
    while True:
        size, _, data = data.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            return out, data[2:]
        out, data = out + data[:n], data[n + 2:]


def _head(length: int | None, extra: str = "", close: bool = True) -> bytes:
    framing = (f"Content-Length: {length}\r\n" if length is not None
               else "Transfer-Encoding: chunked\r\n")
    connection = "Connection: close\r\n" if close else ""
    return (f"POST /v1/score HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
            f"\r\n{framing}{extra}{connection}\r\n").encode()


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


def test_a_malformed_chunked_body_ends_where_it_breaks(port):
    """granian does not tell the app that a chunked encoding broke: the body ends there
    (here before any JSON: 400 invalid-json) and the connection is closed after the answer,
    so what follows the break is never read as a request."""
    answers = _responses(port, _head(None, close=False) + b"zz\r\n{}\r\n0\r\n\r\n" + HEALTHZ)
    assert [status for status, _, _ in answers] == [400]
    assert json.loads(answers[0][2])["type"] == "/problems/invalid-json"


# --- duplicate names, Content-Encoding (issue 13, finding 8) -------------------------------

DUPLICATES = {
    "top-level": '{"campaign_id": "a", "campaign_id": "b"}',
    "spaced": '{"campaign_id" : "a", "marketplace": "US", "marketplace" : "DE"}',
    "in-a-batch": '{"campaigns": [{"campaign_id": "a"}, {"campaign_id": "b", "category": '
                  '"home", "category": "pets"}]}',
    "in-a-plan": '{"campaign_id": "a", "failed": true, "plan": {"x": 1, "x": 2}}',
    "beside-nan": '{"goal_alignment_score": NaN, "goal_alignment_score": 0.5}',
    "colons-in-values": '{"campaign_id": "2027:Q1", "campaign_id": "x\\" : y"}',
}


@pytest.mark.parametrize("text", list(DUPLICATES.values()), ids=list(DUPLICATES))
def test_a_name_twice_in_one_object_is_400(client, text):
    """orjson keeps the last of two equal names, SQLite's json_extract reads the first: the
    stored plan would disagree with the one scored. Refused, as RFC 8259 allows."""
    for path in ("/v1/score", "/v1/outcomes"):
        r = client.post(path, data=text, content_type="application/json",
                        headers={"X-API-Key": "k"})
        if path == "/v1/outcomes" and r.status_code == 401:
            continue  # the test app has no keys: outcomes are covered with a key below
        assert r.status_code == 400, (path, r.get_data())
        assert r.get_json()["type"] == "/problems/duplicate-name"
        assert "more than once" in r.get_json()["detail"]


def test_a_name_twice_in_an_outcome_is_400(trained, tmp_path):
    from service import create_app

    root, _ = trained
    app = create_app({"artifacts": str(root), "api_keys": "k", "data_dir": str(tmp_path)})
    r = app.test_client().post("/v1/outcomes", data=DUPLICATES["in-a-plan"],
                               content_type="application/json", headers={"X-API-Key": "k"})
    assert r.status_code == 400 and r.get_json()["type"] == "/problems/duplicate-name"


@pytest.mark.parametrize("text", ['{"campaign_id": "a\\" : 1", "x": 1}',
                                  '{"campaign_id": "2027:Q1", "x": 1}',
                                  '{"a": {"b": 1}, "b": {"a": 1}}', '[{"a": 1}, {"a": 1}]'],
                         ids=["quote-and-colon-in-a-value", "colon-in-a-value",
                              "same-name-in-two-objects", "in-a-list"])
def test_equal_names_in_different_objects_are_fine(client, text):
    r = client.post("/v1/score", data=text, content_type="application/json")
    assert r.get_json()["type"] != "/problems/duplicate-name"


def test_a_gzip_body_is_scored_as_the_plain_one(client):
    import gzip

    plain = client.post("/v1/score", json=GOOD).get_json()
    r = client.post("/v1/score", data=gzip.compress(json.dumps(GOOD).encode()),
                    content_type="application/json", headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.get_json()["results"] == plain["results"]


def test_a_gzip_bomb_is_413_at_the_limit(trained):
    import gzip

    from service import create_app

    root, _ = trained
    app = create_app({"artifacts": str(root), "max_body_bytes": LIMIT})
    bomb = gzip.compress(b" " * 3_000_000)  # 3 KB that decompress to 3 MB
    assert len(bomb) < LIMIT
    r = app.test_client().post("/v1/score", data=bomb, content_type="application/json",
                               headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413 and r.get_json()["type"] == "/problems/body-too-large"
    assert f"decompresses to more than {LIMIT} bytes" in r.get_json()["detail"]


@pytest.mark.parametrize("data,coding,status,kind", [
    (b"not gzip", "gzip", 400, "invalid-encoding"),
    (b"\x1f\x8b\x08\x00", "gzip", 400, "invalid-encoding"),
    (b"{}", "br", 415, "unsupported-content-encoding"),
    (b"{}", "gzip, gzip", 415, "unsupported-content-encoding"),
], ids=["not-gzip", "cut-short", "brotli", "twice"])
def test_a_body_that_cannot_be_decoded_is_named(client, data, coding, status, kind):
    r = client.post("/v1/score", data=data, content_type="application/json",
                    headers={"Content-Encoding": coding})
    assert r.status_code == status and r.get_json()["type"] == f"/problems/{kind}"
    if status == 415:
        assert r.headers["Accept-Encoding"] == "gzip"
        assert "gzip" in r.get_json()["detail"]


def test_granian_hands_a_gzip_body_over_as_sent(port):
    import gzip

    body = gzip.compress(json.dumps(GOOD).encode())
    status, answer = _exchange(port, _head(len(body), "Content-Encoding: gzip\r\n"), body)
    assert status == 200 and answer["results"][0]["campaign_id"] == "body-1"


# --- the request head ---------------------------------------------------------------------

def test_more_than_100_header_fields_are_431_from_granian(port):
    fields = "".join(f"X-Field-{i}: v\r\n" for i in range(101))
    [(status, headers, body)] = _responses(port, _head(2, fields) + b"{}")
    assert (status, body, headers["connection"]) == (431, b"", "close")


def test_a_head_far_over_the_limit_is_431_from_granian(port):
    big = f"X-Big: {'a' * (4 * MAX_HEAD_BYTES)}\r\n"
    [(status, _, body)] = _responses(port, _head(2, big) + b"{}")
    assert (status, body) == (431, b"")


def test_a_url_over_65534_bytes_is_414_from_granian(port):
    [(status, _, body)] = _responses(
        port, f"GET /healthz?{'a' * 66_000} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert (status, body) == (414, b"")


def test_a_long_header_within_the_head_limit_is_served(port):
    """gunicorn refused any one header line over 8,190 bytes; granian only bounds the head."""
    long = f"X-Trace: {'t' * 16_000}\r\n"
    [(status, _, body)] = _responses(
        port, f"GET /healthz HTTP/1.1\r\nHost: x\r\n{long}Connection: close\r\n\r\n".encode())
    assert status == 200 and json.loads(body) == {"status": "alive"}


# --- smuggling: one request framed two ways -----------------------------------------------

@pytest.mark.parametrize("declared", ["shorter", "longer"])
def test_content_length_with_chunked_reads_chunked_and_closes(port, declared):
    """Both framings at once: granian reads the body as chunked (RFC 9112 §6.3) and closes
    the connection after the answer, so bytes after the chunked body are never a request."""
    body = _chunked(json.dumps(GOOD).encode())
    length = 5 if declared == "shorter" else len(body) + len(HEALTHZ)
    data = (f"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    answers = _responses(port, data + body + HEALTHZ)
    assert [status for status, _, _ in answers] == [200]
    assert json.loads(answers[0][2])["results"][0]["campaign_id"] == "body-1"


def test_two_equal_content_lengths_are_one(port):
    """RFC 9110 §8.6 lets a recipient take repeated equal values as one (gunicorn refused)."""
    body = json.dumps(GOOD).encode()
    answers = _responses(port, _head(len(body), f"Content-Length: {len(body)}\r\n") + body)
    assert [status for status, _, _ in answers] == [200]


def test_two_different_content_lengths_are_400_from_granian(port):
    body = json.dumps(GOOD).encode()
    answers = _responses(port, _head(len(body), "Content-Length: 3\r\n") + body + HEALTHZ)
    assert [(status, payload) for status, _, payload in answers] == [(400, b"")]


@pytest.mark.parametrize("codings", [
    "Transfer-Encoding: chunked, gzip\r\n",
    "Transfer-Encoding: xchunked\r\n",
    "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
], ids=["chunked-not-last", "unknown-coding", "two-headers"])
def test_a_transfer_encoding_not_ending_in_chunked_is_400_from_granian(port, codings):
    data = (f"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"{codings}\r\n").encode() + _chunked(json.dumps(GOOD).encode()) + HEALTHZ
    assert [(status, payload) for status, _, payload in _responses(port, data)] == [(400, b"")]


@pytest.mark.parametrize("line", [
    "Transfer-Encoding : chunked", "Transfer-Encoding:\r\n chunked", "X-Nul: a\x00b",
], ids=["space-before-colon", "folded", "nul-byte"])
def test_malformed_header_lines_are_400_from_granian(port, line):
    data = (f"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"{line}\r\nContent-Length: 2\r\n\r\n{{}}").encode() + HEALTHZ
    assert [(status, payload) for status, _, payload in _responses(port, data)] == [(400, b"")]


def test_a_refused_body_is_skipped_not_read_as_requests(port):
    """A body refused unread (413 on its declared length) is skipped by its length: the
    request inside it is never answered; the next request on the connection is."""
    hidden = b"GET /no-such-page HTTP/1.1\r\nHost: x\r\n\r\n"
    body = hidden + b" " * (LIMIT + 100 - len(hidden))
    answers = _responses(port, _head(len(body), close=False) + body + HEALTHZ)
    assert [status for status, _, _ in answers] == [413, 200]
    assert json.loads(answers[1][2]) == {"status": "alive"}
