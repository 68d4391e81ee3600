"""Bad input, property-based: whatever comes in or back, a result or a `CaptainDataError`.

Two directions. What the API may answer (any status 100-599, any bytes, any headers) goes through
the real parsing path: `errors.error_from_response` for many examples, the client's whole response
handling (`run_action`, `iter_pages`) over a hand-built `requests.Response` for many more, and a raw
socket server on loopback for a modest number, so http.client and urllib3 see the bytes too. What a
user may give (malformed search URLs, empty, duplicate, huge and unicode inputs, odd parameters) is
refused with a `ValidationError` that names the field, or handled, by `prepare`, `run_action` and
`run_batch`; never another exception. Runs are bounded (`max_examples`, no deadline, no database).
"""

from __future__ import annotations

import json
import pickle
import socket
import threading
from collections import Counter

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from captaindata_dagster import (
    ActionResult,
    CaptainDataClient,
    CaptainDataError,
)
from captaindata_dagster.api import (
    RateLimitError,
    ServerError,
    ValidationError,
    load_catalog,
)
from captaindata_dagster.api.errors import error_class_for_status, error_from_response
from captaindata_dagster.api.input_safety import MAX_TEXT_CHARS
from captaindata_dagster.api.request_body import check_parameters
from captaindata_dagster.engine.batch.run import run_batch
from captaindata_dagster.simulator import run_simulator
from tests.helpers import TEST_KEY

PROFILE = "linkedin-extract-people"
SEARCH = "linkedin-search-people"
CONNECT = "linkedin-connect-profile"
PROFILE_FIELD = "linkedin_profile_url"
SEARCH_FIELD = "linkedin_people_search_url"
MB = 1_000_000

MANY = settings(max_examples=500, deadline=None, database=None)
SOME = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---------------------------------------------------------------- strategies

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "error_label": json_values,
        "error_scope": json_values,
        "error_ref": json_values,
        "message": json_values,
        "status_code": json_values,
        "params": json_values,
    },
)


def _with_key(text: str) -> bytes:
    return text.replace("KEY", TEST_KEY).encode("utf-8", "surrogatepass")


bodies = st.one_of(
    st.binary(max_size=512),
    envelopes.map(lambda e: json.dumps(e).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"",
            b"null",
            b"[",
            b'{"message": ',
            b"[" * 5000,  # nesting deeper than the JSON parser recurses
            b'{"a":' * 5000,
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            b"\xff\xfe\x00{",
            b'{"message": "bad key KEY", "error_label": "UNAUTHORIZED"}',
            b'[{"linkedin_profile_url": "https://www.linkedin.com/in/x"}]',
            b'{"linkedin_profile_url": "https://www.linkedin.com/in/x"}',
            b"[1, 2, 3]",
            b'"just a string"',
            b"1e999",
        ]
    ).map(lambda b: b.replace(b"KEY", TEST_KEY.encode())),
    st.text(max_size=60).map(lambda t: _with_key(f"KEY {t} KEY")),
)
header_names = st.one_of(
    st.sampled_from(
        [
            "Retry-After",
            "X-RateLimit-Reset",
            "X-RateLimit-Type",
            "X-Pagination-Next",
            "X-Pagination-Previous",
            "Content-Type",
            "Location",
        ]
    ),
    st.from_regex(r"X-[A-Za-z0-9-]{1,12}", fullmatch=True),
)
header_values = st.one_of(
    st.text(
        st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=60
    ),
    st.sampled_from(
        [
            "",
            "null",
            "nan",
            "-inf",
            "1e400",
            "-5",
            "99999999999999999999",
            "Mon, 01 Jan 0001 00:00:00 -2359",
            "Fri, 31 Dec 9999 23:59:59 +2359",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "http://[",
            "http://[::1",
            "https://evil.example/v4/actions/x/run/live?page=2",
            "//evil.example/steal",
            "page=2",
            "application/json; charset=bogus",
            "text/html; charset=utf-8",
        ]
    ),
)
headers = st.dictionaries(header_names, header_values, max_size=5)
statuses = st.integers(min_value=100, max_value=599)


# ---------------------------------------------------------------- error bodies: the pure function


@MANY
@given(status=statuses, body=bodies, hdrs=headers, retry_after=st.none() | st.floats(0, 1e6))
@example(status=500, body=b"[" * 5000, hdrs={}, retry_after=None)  # was a RecursionError
def test_any_answer_parses_into_a_typed_error(status, body, hdrs, retry_after):
    err = error_from_response(
        status, body, hdrs, action_id=PROFILE, retry_after=retry_after, secrets=(TEST_KEY,)
    )
    assert isinstance(err, error_class_for_status(status))
    assert err.status_code == status and isinstance(err.error_label, str) and err.error_label
    assert isinstance(err.message, str) and isinstance(err.params, dict)
    assert isinstance(err.retryable, bool)
    if status >= 500:
        assert isinstance(err, ServerError) and err.retryable
    if status == 429:
        assert isinstance(err, RateLimitError) and err.retryable
    text = f"{err} {err!r} {err.to_dict()}"
    assert TEST_KEY not in text
    assert len(str(err)) < 2000  # an excerpt, never the whole body
    clone = pickle.loads(pickle.dumps(err))  # crosses Dagster's process boundaries
    assert type(clone) is type(err) and clone.to_dict() == err.to_dict()


@MANY
@given(body=bodies)
def test_a_body_as_text_or_none_parses_too(body):
    text = body.decode("utf-8", "replace")
    for value in (text, None):
        assert isinstance(error_from_response(502, value), CaptainDataError)


# ---------------------------------------------------------------- the client's response handling


class CannedSession(requests.Session):
    """A session answering every request with one hand-built `requests.Response`."""

    def __init__(self) -> None:
        super().__init__()
        self.status, self.body, self.headers_out = 200, b"", {}
        self.sent: list[tuple[str, dict]] = []

    def request(self, method, url, **kw):
        self.sent.append((url, dict(kw.get("headers") or {})))
        r = requests.Response()
        r.status_code = self.status
        r._content = self.body
        r.headers = CaseInsensitiveDict(self.headers_out)
        r.encoding = requests.utils.get_encoding_from_headers(r.headers)
        r.url = url
        r.reason = "canned"
        return r


def _canned_client(session: CannedSession) -> CaptainDataClient:
    return CaptainDataClient(
        TEST_KEY,
        "http://127.0.0.1:1/v4",
        session=session,
        max_retries=1,
        backoff_base_s=0.0001,
        backoff_max_s=0.0002,
        max_retry_after_s=0.0,
        integration_users=["u1"],
    )


def _check_outcome(client: CaptainDataClient, call) -> ActionResult | CaptainDataError:
    try:
        out = call()
    except CaptainDataError as err:
        assert TEST_KEY not in f"{err} {err!r}"
        return err
    results = out if isinstance(out, list) else [out]
    for r in results:
        assert isinstance(r, ActionResult) and isinstance(r.results, list)
        assert 200 <= r.status_code < 300
        assert r.next_url is None or r.next_url.startswith("http://127.0.0.1:1/")
    return results[-1] if results else out


@SOME
@given(
    action=st.sampled_from([PROFILE, SEARCH, CONNECT]),
    status=statuses,
    body=bodies,
    hdrs=headers,
)
# Found by these properties and fixed in the client: a RecursionError, a ValueError from a
# next-page header that is not a URL, and a 1xx final answer taken for a success.
@example(action=PROFILE, status=200, body=b"[" * 5000, hdrs={})
@example(action=SEARCH, status=200, body=b"[]", hdrs={"X-Pagination-Next": "http://["})
@example(action=CONNECT, status=101, body=b"", hdrs={})
def test_client_turns_any_response_into_a_result_or_a_typed_error(action, status, body, hdrs):
    session = CannedSession()
    session.status, session.body, session.headers_out = status, body, hdrs
    client = _canned_client(session)
    value = (
        {SEARCH_FIELD: "https://www.linkedin.com/search/results/people/?keywords=cto"}
        if action == SEARCH
        else {PROFILE_FIELD: "https://www.linkedin.com/in/ada"}
    )
    if action == SEARCH:
        _check_outcome(client, lambda: list(client.iter_pages(action, value, max_pages=3)))
    else:
        _check_outcome(client, lambda: client.run_action(action, value))
    # the key only ever went to the client's own host, in its header
    for url, sent_headers in session.sent:
        assert url.startswith("http://127.0.0.1:1/v4/")
        assert TEST_KEY not in url and sent_headers.get("X-API-Key") == TEST_KEY
    if CONNECT == action and status >= 500:
        assert len(session.sent) == 1  # a side effect is never re-sent after a 5xx


@SOME
@given(hdrs=headers, body=bodies)
def test_account_endpoints_handle_any_answer(hdrs, body):
    session = CannedSession()
    session.status, session.body, session.headers_out = 200, body, hdrs
    client = _canned_client(session)
    for call in (client.get_workspace, client.list_users):
        try:
            call()
        except CaptainDataError as err:
            assert TEST_KEY not in f"{err} {err!r}"


class RawServer:
    """A loopback HTTP server that answers each connection with canned bytes, then hangs up."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.reply = b""
        self.requests: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    head, _, rest = data.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n"):
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value.strip() or 0)
                    while len(rest) < length:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        rest += chunk
                    self.requests.append(head)
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def raw_server():
    server = RawServer()
    yield server
    server.close()


def _http_reply(status: int, hdrs: dict[str, str], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} Whatever"]
    lines += [f"{k}: {v}" for k, v in hdrs.items() if k.lower() != "content-length"]
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@FEW
@given(status=statuses, body=bodies, hdrs=headers, action=st.sampled_from([PROFILE, CONNECT]))
@example(status=302, body=b"", hdrs={"Location": "http://["}, action=PROFILE)  # was a ValueError
@example(status=200, body=b'{"a":' * 5000, hdrs={}, action=PROFILE)  # was a RecursionError
def test_any_answer_over_real_http_gives_a_result_or_a_typed_error(
    raw_server, status, body, hdrs, action
):
    raw_server.reply = _http_reply(status, hdrs, body)
    client = CaptainDataClient(
        TEST_KEY,
        f"http://127.0.0.1:{raw_server.port}/v4",
        timeout=5,
        max_retries=0,
        integration_users=["u1"],
    )
    with client:
        outcome = _check_outcome(
            client,
            lambda: client.run_action(action, {PROFILE_FIELD: "https://www.linkedin.com/in/ada"}),
        )
    if isinstance(outcome, ActionResult):
        assert 200 <= status < 300
    elif status >= 200:
        # a complete answer keeps its status; a 1xx is not one, it is a transport failure
        assert outcome.status_code in (status, None)


def test_a_redirect_is_not_followed_so_the_key_stays_home(raw_server):
    """`requests` would re-send X-API-Key to the host a 3xx names: the client must not follow."""
    thief = RawServer()
    thief.reply = _http_reply(200, {}, b"{}")
    try:
        for status in (301, 302, 307, 308):
            location = f"http://127.0.0.1:{thief.port}/steal"
            raw_server.reply = _http_reply(status, {"Location": location}, b"")
            client = CaptainDataClient(TEST_KEY, f"http://127.0.0.1:{raw_server.port}/v4")
            with client, pytest.raises(CaptainDataError) as e:
                client.run_action(PROFILE, {PROFILE_FIELD: "https://www.linkedin.com/in/ada"})
            assert e.value.status_code == status and not e.value.retryable
        # a followed redirect would be recorded before its answer: no wait is needed to see it
        assert thief.requests == []
    finally:
        thief.close()


# ---------------------------------------------------------------- input validation

catalog = load_catalog()
any_text = st.one_of(
    st.text(max_size=80),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.sampled_from(["", " ", "\t\n", "\x00", "null", "https://", "https://www.linkedin.com/in/"]),
)


def _assert_names_field(err: ValidationError, field: str) -> None:
    assert err.field == field, (err.field, str(err))
    assert field in str(err)
    assert len(str(err)) < 2000  # a huge value is never echoed whole


@MANY
@given(
    prefix=st.sampled_from(["", "https://www.linkedin.com/in/", "https://fr.linkedin.com/pub/"]),
    tail=any_text,
)
def test_any_profile_url_is_accepted_or_refused_naming_the_field(prefix, tail):
    client = CaptainDataClient(TEST_KEY, "http://127.0.0.1:1/v4")
    value = prefix + tail
    try:
        act, body = client.prepare(PROFILE, {PROFILE_FIELD: value})
    except ValidationError as err:
        _assert_names_field(err, PROFILE_FIELD)
        return
    assert body["input"][PROFILE_FIELD] == value
    assert act.input_fields[PROFILE_FIELD].regex.search(value)
    json.dumps(body).encode("utf-8")  # what passes can be sent


MALFORMED_SEARCHES = [
    "",
    "   ",
    "linkedin.com/search/results/people/?keywords=cto",
    "http://www.linkedin.com/search/results/people/?keywords=cto",
    "https://www.linkedin.com/search/results/people/",
    "https://www.linkedin.com/search/results/companies/?keywords=cto",
    "https://www.linkedin.com/in/ada-lovelace",
    "https://www.google.com/search/results/people/?keywords=cto",
    "https://www.linkedin.com/search/results/people/? keywords",
    "https://www.linkedin.com/search/results/people/?keywords=\ud800",
    "https://www.linkedin.com/search/results/people/?",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("url", MALFORMED_SEARCHES)
def test_malformed_search_urls_are_refused_naming_the_field(url):
    client = CaptainDataClient(TEST_KEY, "http://127.0.0.1:1/v4")
    with pytest.raises(ValidationError) as e:
        client.run_action(SEARCH, {SEARCH_FIELD: url})  # nothing is sent: the host is closed
    _assert_names_field(e.value, SEARCH_FIELD)
    with pytest.raises(ValidationError) as e:
        list(client.iter_results(SEARCH, {SEARCH_FIELD: url}, max_results=5))
    _assert_names_field(e.value, SEARCH_FIELD)


@SOME
@given(
    action=st.sampled_from([a.id for a in catalog if a.input_fields]),
    value=st.one_of(
        st.none(),
        json_values,
        st.dictionaries(st.text(max_size=30), json_values | any_text, max_size=4),
    ),
)
def test_any_input_object_is_prepared_or_refused_with_a_field(action, value):
    client = CaptainDataClient(TEST_KEY, "http://127.0.0.1:1/v4", integration_users=["u1"])
    try:
        client.prepare(action, value)
    except ValidationError as err:
        assert err.field is not None and str(err.field) in str(err) and len(str(err)) < 5000
        assert err.error_label == "INVALID_INPUT"


@SOME
@given(
    action=st.sampled_from([a.id for a in catalog if a.parameters]),
    params=st.one_of(
        st.none(), json_values, st.dictionaries(any_text, json_values | any_text, max_size=4)
    ),
)
def test_any_parameters_are_accepted_or_refused_with_a_field(action, params):
    act = catalog.get(action)
    try:
        check_parameters(act, params)
    except ValidationError as err:
        assert err.field is not None and err.error_label == "BAD_PARAMETERS"


@pytest.mark.parametrize("field_value", ["", "   ", None])
def test_empty_inputs_are_refused_naming_the_field(field_value):
    client = CaptainDataClient(TEST_KEY, "http://127.0.0.1:1/v4")
    for value in ({PROFILE_FIELD: field_value}, {}, None):
        with pytest.raises(ValidationError) as e:
            client.run_action(PROFILE, value)
        _assert_names_field(e.value, PROFILE_FIELD)


def test_huge_values_are_checked_fast_and_never_echoed_whole(monkeypatch):
    """Fast by construction, not by a stopwatch: no field's pattern ever runs on a value longer
    than the input limits (a pattern's backtracking on 1 MB is what would make a check slow)."""
    import captaindata_dagster.api.catalog as catalog_module

    searched: list[int] = []
    compile_pattern = catalog_module._compile

    class Recorded:
        def __init__(self, rx):
            self.rx = rx

        def search(self, text):
            searched.append(len(text))
            return self.rx.search(text)

    monkeypatch.setattr(catalog_module, "_compile", lambda p, f: Recorded(compile_pattern(p, f)))
    client = CaptainDataClient(TEST_KEY, "http://127.0.0.1:1/v4")
    client.prepare(PROFILE, {PROFILE_FIELD: "https://www.linkedin.com/in/ada"})
    assert searched  # the recorder sees the patterns that do run
    for act in catalog:
        for name in act.input_fields:
            for value in ("x" * MB, " " * MB, "é" * MB, "https://www.linkedin.com/" + "a" * MB):
                try:
                    client.prepare(act.id, {name: value})
                except ValidationError as err:
                    assert err.field and len(str(err)) < 2000
                    # the huge value is refused under its own name (or another field is missing)
                    assert all(len(str(p)) < 400 for p in err.problems if p.field == name)
    assert searched and max(searched) <= MAX_TEXT_CHARS


# ---------------------------------------------------------------- run_batch over the simulator


@pytest.fixture(scope="module")
def batch_sim():
    with run_simulator(seed=5, api_key=TEST_KEY) as s:
        yield s


def _profile(i: int) -> str:
    return f"https://www.linkedin.com/in/bad-input-{i}"


batch_items = st.one_of(
    st.integers(0, 5).map(_profile),
    st.integers(0, 5).map(lambda i: f"  {_profile(i)}  "),  # the same person, spaced
    st.integers(0, 5).map(lambda i: {"profile_url": _profile(i)}),  # an alias
    st.integers(0, 5).map(lambda i: {PROFILE_FIELD: _profile(i), "custom_data": {"n": i}}),
    st.just(None),
    st.sampled_from(
        [
            "",
            "   ",
            "not a url",
            "https://example.com/in/x",
            "\ud800",
            "https://www.linkedin.com/in/zoë-😀",
        ]
    ),
    any_text,
    st.dictionaries(st.text(max_size=8), json_scalars, max_size=2),
    st.integers() | st.floats(allow_nan=True) | st.lists(st.integers(), max_size=2),
)


@FEW
@given(inputs=st.lists(batch_items, max_size=12))
def test_run_batch_accounts_for_every_input_whatever_it_is(batch_sim, inputs):
    client = CaptainDataClient(TEST_KEY, batch_sim.base_url, max_retries=0)
    before = len(batch_sim.calls(PROFILE))
    with client:
        batch = run_batch(client, PROFILE, inputs)
    stats = batch.stats
    assert stats.inputs == len(inputs)
    results = set(batch.results["_input"]) if len(batch.results) else set()
    errors = list(batch.errors["input"])
    assert len(errors) == len(set(errors)) and not results & set(errors)
    assert len(results) + len(errors) == stats.unique_inputs  # each unique input, exactly once
    calls = batch_sim.calls(PROFILE)[before:]
    sent = Counter(r.input[PROFILE_FIELD] for r in calls if r.input)
    assert all(n == 1 for n in sent.values()), "the same input was fetched twice"
    local = batch.errors[batch.errors["status_code"].isna()]
    assert (local["error_label"] == "INVALID_INPUT").all()
    for message in local["message"]:
        assert any(f in message for f in (PROFILE_FIELD, "input", "custom_data")) or ":" in message


def test_run_batch_with_no_inputs_calls_nothing(batch_sim):
    client = CaptainDataClient(TEST_KEY, batch_sim.base_url)
    before = len(batch_sim.calls())
    batch = run_batch(client, PROFILE, [])
    assert batch.results.empty and batch.errors.empty and batch.stats.calls == 0
    assert len(batch_sim.calls()) == before
    with pytest.raises(TypeError, match="iterable"):
        run_batch(client, PROFILE, _profile(1))  # a lone string, not a list of inputs


def test_run_batch_huge_duplicate_and_unicode_inputs(batch_sim):
    client = CaptainDataClient(TEST_KEY, batch_sim.base_url, max_retries=0)
    huge_ok = "https://www.linkedin.com/in/" + "h" * MB
    huge_bad = "h" * MB
    unicode_ok = "https://www.linkedin.com/in/zoë-müller-😀"
    before = len(batch_sim.calls(PROFILE))
    batch = run_batch(
        client,
        PROFILE,
        [huge_ok, huge_bad, unicode_ok, unicode_ok, f" {unicode_ok} ", {"url": unicode_ok}],
    )
    assert batch.stats.unique_inputs == 3
    sent = [r.input[PROFILE_FIELD] for r in batch_sim.calls(PROFILE)[before:]]
    # a 1 MB URL is no URL LinkedIn serves: refused locally, never sent and billed (issue 12)
    assert sent == [unicode_ok]
    assert set(batch.results["_input"]) == {unicode_ok}
    rows = batch.errors.to_dict("records")
    assert len(rows) == 2
    for row in rows:
        assert row["error_label"] == "INVALID_INPUT" and PROFILE_FIELD in row["message"]
        assert len(row["message"]) < 2000
    assert any("at most 2,048" in row["message"] for row in rows)


@pytest.mark.parametrize(
    "value",
    [
        "https://www.linkedin.com/in/ada\ud800",
        {"linkedin_profile_url": _profile(1), "custom_data": {"\udfff": 1}},
    ],
)
def test_text_that_is_not_unicode_is_refused_before_sending(batch_sim, value):
    client = CaptainDataClient(TEST_KEY, batch_sim.base_url)
    before = len(batch_sim.calls())
    batch = run_batch(client, PROFILE, [value])
    (row,) = batch.errors.to_dict("records")
    assert row["error_label"] == "INVALID_INPUT" and "Unicode" in row["message"]
    assert len(batch_sim.calls()) == before
    with pytest.raises(ValidationError, match="Unicode"):
        client.run_action(PROFILE, value if isinstance(value, dict) else {PROFILE_FIELD: value})
