"""The CLI sends a request again after a 429 or 503, waiting the ``Retry-After`` the service asks
for, a bounded number of times, and says so on stderr. An HTTP stub answers from a script; the
sleep is injected and recorded, so nothing waits."""

from __future__ import annotations

import json
from collections.abc import Iterable

import pytest
import requests
from click.testing import CliRunner
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from cli.http import ApiError, Client, Credential, RetryPolicy, retry_after_s
from cli.main import cli

URL = "http://127.0.0.1:8000"
OK = (200, {}, {"status": "TRIAL"})


def busy(status: int = 503, retry_after: str | None = "1") -> tuple[int, dict[str, str], dict]:
    code = {429: "RATE_LIMITED", 503: "UNAVAILABLE"}[status]
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return status, headers, {"error": {"code": code, "message": "Try again later.", "detail": {}}}


class ScriptedService(BaseAdapter):
    """Answers each request with the next (status, headers, body) of its script."""

    def __init__(self, answers: Iterable[tuple[int, dict[str, str], dict]]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.seen: list[tuple[str, str]] = []

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        self.seen.append((request.method, request.path_url))
        status, headers, body = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **headers})
        response._content = json.dumps(body).encode()
        response.encoding = "utf-8"
        response.url, response.request = request.url, request
        return response

    def close(self) -> None:
        pass

    def session(self) -> requests.Session:
        session = requests.Session()
        session.mount("http://", self)
        return session


class Recorder:
    def __init__(self) -> None:
        self.slept: list[float] = []
        self.said: list[str] = []


def client_for(service: ScriptedService, recorder: Recorder, **policy) -> Client:
    retry = RetryPolicy(sleep=recorder.slept.append, notify=recorder.said.append, **policy)
    return Client(URL, session_factory=service.session, retry=retry)


ADMIN = Credential.bearer("lk_api.t.x")


def test_a_503_is_sent_again_after_the_retry_after_asked_for():
    service, recorder = ScriptedService([busy(503, "2"), OK]), Recorder()

    body = client_for(service, recorder).call("GET", "/v1/license", credential=ADMIN)

    assert body == {"status": "TRIAL"}
    assert service.seen == [("GET", "/v1/license")] * 2
    assert recorder.slept == [2.0]
    assert recorder.said == ["licensing: GET /v1/license: 503 UNAVAILABLE; retrying in 2 s (retry 1 of 3)"]


def test_a_429_is_sent_again_whatever_the_method():
    service, recorder = ScriptedService([busy(429, "7"), OK]), Recorder()

    client_for(service, recorder).call("POST", "/v1/license-types", credential=ADMIN, json={"name": "p"})

    assert len(service.seen) == 2 and recorder.slept == [7.0]


def test_a_503_to_a_post_without_an_idempotency_key_is_not_sent_twice():
    service, recorder = ScriptedService([busy(503, "1"), OK]), Recorder()

    with pytest.raises(ApiError) as refused:
        client_for(service, recorder).call("POST", "/v1/tenants", credential=ADMIN, json={"name": "Acme"})

    assert refused.value.code == "UNAVAILABLE"
    assert len(service.seen) == 1 and recorder.slept == []
    assert "not retried" in recorder.said[0] and "Idempotency-Key" in recorder.said[0]


def test_a_503_to_a_post_with_an_idempotency_key_is_sent_again():
    service, recorder = ScriptedService([busy(503, "1"), OK]), Recorder()

    client_for(service, recorder).call(
        "POST", "/v1/activations", credential=ADMIN, json={}, headers={"Idempotency-Key": "lm-1"}
    )

    assert len(service.seen) == 2 and recorder.slept == [1.0]


def test_the_retries_are_bounded_and_the_last_answer_is_the_commands():
    service, recorder = ScriptedService([busy(503, "1")] * 10), Recorder()

    with pytest.raises(ApiError) as refused:
        client_for(service, recorder, retries=2).call("GET", "/v1/license", credential=ADMIN)

    assert refused.value.status == 503
    assert len(service.seen) == 3 and recorder.slept == [1.0, 1.0]
    assert recorder.said[-1] == "licensing: GET /v1/license: 503 UNAVAILABLE; giving up after 3 attempts"


def test_a_retry_after_longer_than_the_cli_waits_is_not_sat_out():
    service, recorder = ScriptedService([busy(429, "3600"), OK]), Recorder()

    with pytest.raises(ApiError) as refused:
        client_for(service, recorder, max_wait_s=30).call("GET", "/v1/license", credential=ADMIN)

    assert refused.value.code == "RATE_LIMITED"
    assert len(service.seen) == 1 and recorder.slept == []
    assert "asks to wait 3600 s, more than 30 s" in recorder.said[0]


def test_without_a_usable_retry_after_the_waits_double():
    answers = [busy(503, None), busy(503, "soon"), busy(503, None), OK]
    service, recorder = ScriptedService(answers), Recorder()

    client_for(service, recorder, backoff_s=0.5).call("GET", "/v1/license", credential=ADMIN)

    assert recorder.slept == [0.5, 1.0, 2.0]


def test_other_errors_are_not_retried():
    service, recorder = (
        ScriptedService([(500, {}, {"error": {"code": "INTERNAL", "message": "x", "detail": {}}}), OK]),
        Recorder(),
    )

    with pytest.raises(ApiError):
        client_for(service, recorder).call("GET", "/v1/license", credential=ADMIN)

    assert len(service.seen) == 1 and recorder.slept == [] and recorder.said == []


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5", 5.0),
        (" 12 ", 12.0),
        ("0", 0.0),
        (None, None),
        ("", None),
        ("-1", None),
        ("1.5", None),
        ("\u00b2", None),
        ("Wed, 21 Oct 2026 07:28:00 GMT", None),
    ],
)
def test_retry_after_is_read_as_delta_seconds(value, seconds):
    assert retry_after_s(value) == seconds


# Through the command line -------------------------------------------------------------------------


def run_cli(service: ScriptedService, slept: list[float], *args: str):
    return CliRunner().invoke(
        cli,
        list(args),
        obj={"session_factory": service.session, "sleep": slept.append},
        env={"LICENSING_URL": URL, "LICENSING_API_KEY": "lk_api.t.x", "LICENSING_RETRIES": None},
        catch_exceptions=False,
    )


def test_a_command_waits_out_a_rate_limit_and_says_so_on_stderr():
    service, slept = ScriptedService([busy(429, "3"), OK]), []

    result = run_cli(service, slept, "--json", "license")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "TRIAL"}
    assert slept == [3.0]
    assert "GET /v1/license: 429 RATE_LIMITED; retrying in 3 s (retry 1 of 3)" in result.stderr


def test_retries_0_gives_the_services_answer_at_once():
    service, slept = ScriptedService([busy(503, "1"), OK]), []

    result = run_cli(service, slept, "--retries", "0", "license")

    assert result.exit_code == 1
    assert slept == [] and len(service.seen) == 1
    assert "giving up after 1 attempt" in result.stderr
    assert "Error: UNAVAILABLE: Try again later." in result.stderr
