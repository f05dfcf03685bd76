"""The Point transport on a scripted session: no network, no real sleeping (waits recorded)."""

from __future__ import annotations

import email.utils
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import replace

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

from tests.upstreams.conftest import BASE, Outcome, RecordingTokens, ScriptedSession, answer
from upstreams.contract import (
    FIELD_DISPLAY_NAME,
    FIELD_OWNERS,
    AuthenticationFailed,
    Conflict,
    Connection,
    Invalid,
    NotFound,
    OutcomeUnknown,
    PermissionMissing,
    Throttled,
    Unavailable,
    UpstreamError,
    metadata_field,
)
from upstreams.point import transport

TEMPLATES = "/v1.0/provision/templates"
PROVISION = "/v1.0/provision/teams"


def _unreachable(reason: Exception) -> requests.ConnectionError:
    """A connection error as requests raises it: urllib3's MaxRetryError wrapping the cause."""
    gave_up = MaxRetryError(None, BASE, reason=reason)  # type: ignore[arg-type]  # no pool here
    return requests.ConnectionError(gave_up)


def _get(connection: Connection, path: str = TEMPLATES) -> transport.Answer:
    return transport.call(connection, "GET", path, permission="Point.Provisioning")


def _post(connection: Connection, **extra: object) -> transport.Answer:
    return transport.call(
        connection,
        "POST",
        PROVISION,
        permission="Point.Provisioning",
        body={"displayName": "Falcon"},
        safe_to_repeat=False,
        **extra,
    )


# --- Every request -------------------------------------------------------------------------------


def test_every_request_has_both_timeouts_no_redirects_and_the_bearer_token(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, [{"id": 1}])]
    found = transport.call(
        offline, "get", TEMPLATES, permission="Point.Provisioning", params={"$top": 5}
    )
    assert (found.status, found.data) == (200, [{"id": 1}])
    [sent] = http.sent
    assert (sent.method, sent.url) == ("GET", f"{BASE}/v1.0/provision/templates")
    assert sent.kwargs["timeout"] == (2.0, 5.0)
    assert sent.kwargs["allow_redirects"] is False
    assert sent.kwargs["params"] == {"$top": 5}
    assert sent.kwargs["headers"]["Authorization"] == "Bearer token-one"


def test_a_base_url_with_a_trailing_slash_joins_cleanly(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, [])]
    _get(replace(offline, base_url=f"{BASE}/"), "v1.0/sites")
    assert http.sent[0].url == f"{BASE}/v1.0/sites"


def test_a_redirect_is_answered_not_followed(offline: Connection, http: ScriptedSession) -> None:
    http.script = [answer(302, {"id": "j", "status": "Succeeded"}, headers={"Location": "/x"})]
    found = _get(offline, "/v1.0/requests/j/status")
    assert found.status == 302 and found.headers["location"] == "/x"
    assert len(http.sent) == 1


def test_an_answer_not_wanted_as_json_is_not_decoded(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, {"webhooksSignatureAuthenticationKey": "k" * 36})]
    found = transport.call(
        offline, "GET", "/v1.0/options", permission="Point.Admin", expect_json=False
    )
    assert found.data is None


def test_an_empty_answer_has_no_data(offline: Connection, http: ScriptedSession) -> None:
    http.script = [answer(204)]
    assert _get(offline).data is None


def test_a_url_that_cannot_be_used_fails_at_once(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [requests.exceptions.InvalidURL("bad")]
    with pytest.raises(UpstreamError, match="Point API URL") as caught:
        _get(offline)
    assert not caught.value.retryable and len(http.sent) == 1


# --- Tokens --------------------------------------------------------------------------------------


def test_a_rejected_token_is_reported_and_renewed_once(
    offline: Connection, http: ScriptedSession, tokens: RecordingTokens
) -> None:
    http.script = [answer(401), answer(200, [])]
    _get(offline)
    assert tokens.rejections == ["token-one"]
    assert tokens.asked == [False, True]
    assert [s.token for s in http.sent] == ["token-one", "token-two"]


def test_a_second_401_is_an_authentication_failure_with_guidance(
    offline: Connection, http: ScriptedSession, tokens: RecordingTokens
) -> None:
    http.script = [answer(401), answer(401)]
    with pytest.raises(AuthenticationFailed) as caught:
        _get(offline)
    assert caught.value.status == 401 and not caught.value.retryable
    assert "Point API app ID" in caught.value.guidance and "URL" in caught.value.guidance
    assert len(http.sent) == 2 and tokens.asked == [False, True]


def test_a_rejected_token_on_a_post_is_renewed_too(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(401), answer(201, {"id": "r1"})]
    assert _post(offline).data == {"id": "r1"}


def test_a_token_failure_reaches_the_caller_and_nothing_is_sent(
    offline: Connection, http: ScriptedSession, tokens: RecordingTokens
) -> None:
    tokens.failure = AuthenticationFailed(
        "Entra refused the client secret.", guidance="Certificates & secrets", retryable=False
    )
    with pytest.raises(AuthenticationFailed) as caught:
        _get(offline)
    assert caught.value is tokens.failure
    assert http.sent == []


def test_a_token_failure_while_renewing_reaches_the_caller(
    offline: Connection, http: ScriptedSession, tokens: RecordingTokens
) -> None:
    http.script = [answer(401)]

    def failing(*, fresh: bool = False) -> str:
        if fresh:
            raise AuthenticationFailed("Entra is down.", retryable=True)
        return "token-one"

    tokens.token = failing  # type: ignore[method-assign]
    with pytest.raises(AuthenticationFailed, match="Entra is down") as caught:
        _get(offline)
    assert caught.value.retryable and tokens.rejections == ["token-one"]


# --- Refusals ------------------------------------------------------------------------------------


def test_a_403_names_the_missing_permission_and_how_to_grant_it(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(403)]
    with pytest.raises(PermissionMissing) as caught:
        transport.call(offline, "GET", "/v1.0/options", permission="Point.Admin")
    error = caught.value
    assert (error.permission, error.status, error.retryable) == ("Point.Admin", 403, False)
    assert "Point.Admin" in error.message and "GET /v1.0/options" in error.message
    assert "Entra ID > App registrations" in error.guidance
    assert '"Syskit Point API"' in error.guidance and "Grant admin consent" in error.guidance
    assert len(http.sent) == 1


@pytest.mark.parametrize("status", [400, 422])
def test_a_refused_request_names_neutral_fields(
    offline: Connection, http: ScriptedSession, status: int
) -> None:
    http.script = [
        answer(
            status,
            {
                "title": "One or more validation errors occurred.",
                "errors": {
                    "displayName": ["The displayName field is required."],
                    "owners": ["At least 1 owner is required."],
                    "metadata.Cost Center": ["Cost Center is required."],
                },
            },
        )
    ]
    with pytest.raises(Invalid) as caught:
        _post(offline)
    assert caught.value.status == status and not caught.value.retryable
    assert set(caught.value.field_errors) == {
        FIELD_DISPLAY_NAME,
        FIELD_OWNERS,
        metadata_field("Cost Center"),
    }
    assert len(http.sent) == 1


def test_a_refusal_without_field_errors_is_for_the_whole_request(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(400, {"exceptionMessage": "Provisioning is disabled."})]
    with pytest.raises(Invalid) as caught:
        _post(offline)
    assert caught.value.field_errors == {"": ["Provisioning is disabled."]}


def test_a_404_is_not_found_in_points_words(offline: Connection, http: ScriptedSession) -> None:
    http.script = [
        answer(
            404,
            {"message": "An error has occurred.", "exceptionMessage": "Group with id X not found."},
        )
    ]
    with pytest.raises(NotFound, match="Group with id X not found.") as caught:
        _get(offline, "/v1.0/groups/X")
    assert caught.value.status == 404 and not caught.value.retryable


def test_a_409_is_a_conflict(offline: Connection, http: ScriptedSession) -> None:
    http.script = [answer(409, {"exceptionMessage": "Request j has not completed yet."})]
    with pytest.raises(Conflict, match="not completed yet"):
        _get(offline, "/v1.0/requests/j/result")


def test_another_4xx_is_an_upstream_error_with_its_status(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(405, {"message": "GET is not allowed."})]
    with pytest.raises(UpstreamError) as caught:
        _get(offline)
    assert type(caught.value) is UpstreamError
    assert caught.value.status == 405 and "405" in caught.value.message
    assert "GET is not allowed." in caught.value.message


# --- Retries of repeatable calls -----------------------------------------------------------------


def test_a_5xx_is_retried_with_growing_back_off(
    offline: Connection, http: ScriptedSession, waits: list[float]
) -> None:
    http.script = [answer(503), answer(502), answer(200, [])]
    assert _get(offline).data == []
    assert len(waits) == 2
    assert 0.05 <= waits[0] <= 0.1 and 0.1 <= waits[1] <= 0.2


def test_a_persistent_5xx_gives_up_after_the_retries(
    offline: Connection, http: ScriptedSession, waits: list[float]
) -> None:
    http.script = [answer(500, {"exceptionMessage": "Kaput."})] * 4
    with pytest.raises(Unavailable) as caught:
        _get(offline)
    assert "answered 500: Kaput." in caught.value.message and "4 times" in caught.value.message
    assert caught.value.retryable
    assert len(http.sent) == 4 and len(waits) == 3


def test_no_retries_means_one_attempt(
    offline: Connection, http: ScriptedSession, waits: list[float]
) -> None:
    http.script = [answer(503)]
    with pytest.raises(Unavailable, match="1 times"):
        _get(replace(offline, max_retries=0))
    assert waits == []


def test_retries_stop_when_the_budget_is_spent(
    offline: Connection, http: ScriptedSession, waits: list[float]
) -> None:
    connection = replace(offline, backoff=4.0, retry_budget=10.0, max_retries=10)
    http.script = [answer(503)] * 10
    with pytest.raises(Unavailable, match="retry budget of 10 s spent"):
        _get(connection)
    assert sum(waits) <= 10.0
    assert len(http.sent) == len(waits) + 1


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectTimeout("connect timed out"),
        requests.ReadTimeout("read timed out"),
        requests.ConnectionError("Connection reset by peer"),
        requests.exceptions.ChunkedEncodingError("broken"),
    ],
)
def test_a_get_without_an_answer_is_retried(
    offline: Connection, http: ScriptedSession, waits: list[float], failure: Exception
) -> None:
    http.script = [failure, answer(200, [])]
    assert _get(offline).data == []
    assert len(http.sent) == 2 and len(waits) == 1


def test_a_timeout_that_persists_says_it_timed_out(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [requests.ReadTimeout("read timed out")] * 4
    with pytest.raises(Unavailable, match="timed out"):
        _get(offline)


def test_malformed_json_is_retried_on_a_get(
    offline: Connection, http: ScriptedSession, waits: list[float]
) -> None:
    http.script = [answer(200, raw=b'{"value": [tru'), answer(200, [])]
    assert _get(offline).data == []
    assert len(waits) == 1


def test_malformed_json_that_persists_is_unavailable(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, raw=b"<html>")] * 4
    with pytest.raises(Unavailable, match="malformed JSON"):
        _get(offline)


def test_a_post_marked_safe_to_repeat_is_retried(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(503), requests.ReadTimeout("slow"), answer(202, {"id": "j"})]
    found = transport.call(
        offline, "POST", "/v1.0/groups/memberships", permission="x", body={}, safe_to_repeat=True
    )
    assert found.status == 202 and len(http.sent) == 3


def test_a_delete_is_repeatable_by_default(offline: Connection, http: ScriptedSession) -> None:
    http.script = [answer(503), answer(204)]
    found = transport.call(offline, "DELETE", "/v1.0/webhooks/endpoints", permission="Point.Admin")
    assert found.status == 204


# --- A POST that is not safe to repeat ----------------------------------------------------------


@pytest.mark.parametrize(
    "never_arrived",
    [
        requests.ConnectTimeout("connect timed out"),
        _unreachable(NewConnectionError(None, "Connection refused")),  # type: ignore[arg-type]
        _unreachable(NameResolutionError("point.example", None, None)),  # type: ignore[arg-type]
    ],
)
def test_a_post_that_never_arrived_is_sent_again(
    offline: Connection, http: ScriptedSession, never_arrived: Exception
) -> None:
    http.script = [never_arrived, answer(201, {"id": "r1"})]
    assert _post(offline).data == {"id": "r1"}
    assert len(http.sent) == 2


@pytest.mark.parametrize(
    "maybe_arrived",
    [
        requests.ReadTimeout("read timed out"),
        requests.ConnectionError("Connection reset by peer"),
        requests.exceptions.ChunkedEncodingError("broken"),
        answer(500),
        answer(503),
    ],
)
def test_a_post_that_may_have_arrived_is_never_sent_twice(
    offline: Connection,
    http: ScriptedSession,
    waits: list[float],
    maybe_arrived: Exception | requests.Response,
) -> None:
    http.script = [maybe_arrived, answer(201, {"id": "r2"})]
    with pytest.raises(OutcomeUnknown, match="may or may not have been carried out") as caught:
        _post(offline)
    assert not caught.value.retryable
    assert len(http.sent) == 1 and waits == []


def test_a_throttled_post_is_sent_again_after_the_wait(
    offline: Connection, http: ScriptedSession, waits: list[float]
) -> None:
    # A 429 was refused before any work: sending it again cannot create a second workspace.
    http.script = [answer(429, headers={"Retry-After": "3"}), answer(201, {"id": "r1"})]
    assert _post(offline).data == {"id": "r1"}
    assert waits[0] >= 3


# --- Throttling and Retry-After -----------------------------------------------------------------


def test_a_429_is_retried_honouring_retry_after(
    offline: Connection, http: ScriptedSession, waits: list[float]
) -> None:
    http.script = [answer(429, headers={"Retry-After": "7"})] * 2 + [answer(200, [])]
    assert _get(offline).data == []
    assert len(waits) == 2 and all(wait >= 7 for wait in waits)


def test_throttling_beyond_the_budget_raises_throttled(
    offline: Connection, http: ScriptedSession, waits: list[float]
) -> None:
    http.script = [answer(429, headers={"Retry-After": "60"})]
    with pytest.raises(Throttled) as caught:
        _get(replace(offline, retry_budget=10.0))
    assert caught.value.retryable and caught.value.retry_after == 60
    assert caught.value.status == 429 and "in 60 s" in caught.value.message
    assert waits == []


def test_throttling_beyond_the_retries_raises_throttled(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(429)] * 4
    with pytest.raises(Throttled) as caught:
        _get(offline)
    assert caught.value.retry_after is None and "later" in caught.value.message
    assert len(http.sent) == 4


def test_a_retry_after_longer_than_the_cap_is_capped(
    offline: Connection, http: ScriptedSession, waits: list[float]
) -> None:
    http.script = [answer(429, headers={"Retry-After": "86400"}), answer(200, [])]
    _get(replace(offline, retry_after_max=5.0))
    assert 5.0 <= waits[0] < 6.0


def test_an_unparseable_retry_after_falls_back_to_the_back_off(
    offline: Connection, http: ScriptedSession, waits: list[float]
) -> None:
    http.script = [answer(429, headers={"Retry-After": "soon"}), answer(200, [])]
    _get(offline)
    assert 0.05 <= waits[0] <= 0.1


def test_retry_after_as_an_http_date_is_understood() -> None:
    wait = transport.retry_after(email.utils.formatdate(time.time() + 60, usegmt=True), limit=900)
    assert wait is not None and 55 <= wait <= 60


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 12 ", 12.0),
        ("0", 0.0),
        ("9" * 400, 900.0),  # no overflow: capped
        ("Fri, 31 Dec 9999 23:59:59 GMT", 900.0),  # far future: capped
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # the past: now
        ("Fri, 31 Dec 99999 23:59:59 GMT", None),  # beyond any date: ignored
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    assert transport.retry_after(value, limit=900) == expected


def test_the_back_off_doubles_within_its_jitter_and_never_overflows(offline: Connection) -> None:
    connection = replace(offline, backoff=1.0)
    for retry in range(5):
        delay = transport.backoff(connection, retry)
        assert 2**retry / 2 <= delay <= 2**retry
    assert math.isfinite(transport.backoff(connection, 10**6))


# --- Paging ------------------------------------------------------------------------------------


def test_paging_follows_every_next_link_and_keeps_the_first_params(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(200, {"value": [{"id": 1}], "@odata.nextLink": f"{BASE}/v1.0/groups?$skip=1"}),
        answer(200, {"value": [{"id": 2}], "@odata.nextLink": "/tenant/v1.0/groups?$skip=2"}),
        answer(200, {"value": [{"id": 3}]}),
    ]
    items = list(transport.iter_pages(offline, "/v1.0/groups", permission="g", params={"$top": 1}))
    assert [i["id"] for i in items] == [1, 2, 3]
    assert [s.url for s in http.sent] == [
        f"{BASE}/v1.0/groups",
        f"{BASE}/v1.0/groups?$skip=1",
        f"{BASE}/v1.0/groups?$skip=2",
    ]
    assert [s.kwargs["params"] for s in http.sent] == [{"$top": 1}, None, None]


def test_a_bare_array_is_one_page(offline: Connection, http: ScriptedSession) -> None:
    http.script = [answer(200, [{"id": 1}, {"id": 2}])]
    assert len(list(transport.iter_pages(offline, TEMPLATES, permission="p"))) == 2


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/v1.0/groups?$skip=1",
        "//evil.example/v1.0/groups",
        "http://point.example/tenant/v1.0/groups",  # another scheme is another origin
        "https://point.example:8443/tenant/v1.0/groups",  # and so is another port
    ],
)
def test_a_next_link_to_another_origin_is_refused_and_never_called(
    offline: Connection, http: ScriptedSession, link: str
) -> None:
    http.script = [answer(200, {"value": [{"id": 1}], "@odata.nextLink": link})]
    pages = transport.iter_pages(offline, "/v1.0/groups", permission="g")
    assert next(pages) == {"id": 1}
    with pytest.raises(UpstreamError, match="another host"):
        next(pages)
    assert len(http.sent) == 1


def test_a_call_to_another_host_is_refused_before_any_request(
    offline: Connection, http: ScriptedSession, tokens: RecordingTokens
) -> None:
    with pytest.raises(UpstreamError, match="another host"):
        transport.call(offline, "GET", "https://evil.example/v1.0/groups", permission="Point.Admin")
    assert http.sent == [] and tokens.asked == []


def test_a_paging_link_that_loops_is_an_error(offline: Connection, http: ScriptedSession) -> None:
    http.script = [
        answer(200, {"value": [{"id": 1}], "@odata.nextLink": f"{BASE}/v1.0/groups?$skip=1"}),
        answer(200, {"value": [{"id": 2}], "@odata.nextLink": f"{BASE}/v1.0/groups?$skip=1"}),
    ]
    with pytest.raises(UpstreamError, match="already read"):
        list(transport.iter_pages(offline, "/v1.0/groups", permission="g"))


def test_a_list_in_an_unexpected_shape_is_an_error(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, {"groups": [], "tenant": "contoso"})]
    with pytest.raises(UpstreamError, match="unexpected shape"):
        list(transport.iter_pages(offline, "/v1.0/groups", permission="g"))


# --- Secrets -------------------------------------------------------------------------------------


def test_no_token_in_any_message_or_log_line(
    offline: Connection, http: ScriptedSession, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "eyJhbGciOiJSUzI1NiJ9.secret-token-value.signature"
    connection = replace(offline, tokens=RecordingTokens([secret, secret]))
    caplog.set_level(logging.DEBUG)
    failures: list[Exception] = [
        requests.ReadTimeout("read timed out"),
        requests.ConnectionError("reset"),
    ]
    script: list[Sequence[Outcome]] = [
        [answer(500)] * 4,
        [answer(401), answer(401)],
        [answer(403)],
        [answer(429, headers={"Retry-After": "1"})] * 4,
        [answer(400, {"errors": {"displayName": ["required"]}})],
        failures * 2,
    ]
    messages = []
    for steps in script:
        http.script = steps
        with pytest.raises(UpstreamError) as caught:
            _get(connection)
        messages.append(str(caught.value))
        messages.append(caught.value.text)
    http.script = [requests.ReadTimeout("read timed out")]
    with pytest.raises(OutcomeUnknown) as unknown:
        _post(connection)
    messages.append(unknown.value.text)
    for text in [*messages, caplog.text]:
        assert secret not in text and "Bearer" not in text
