"""An API URL without an http(s) scheme is a plain usage error: the hint must not send
the user to --allow-insecure-http, which cannot help (it did, even when given)."""

from __future__ import annotations

import pytest

from .conftest import TOKEN, run_cli


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "ftp://example.com/api/v1", "example.com"])
def test_a_url_without_an_http_scheme_names_the_fix(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    code, out, err = run_cli(capsys, "doctor", "--api-url", url, "--allow-insecure-http")
    assert code == 1, out
    assert "--allow-insecure-http" not in err
    assert "https://" in err
    assert len(err.strip().splitlines()) == 1


def test_a_url_holding_credentials_is_refused_without_showing_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """`http://user:password@host` would print the password in errors, doctor and plan
    files (and send it as Basic auth, which the Upcall API does not use)."""
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    url = "http://admin:PASSW0RDxyz@127.0.0.1:1/api/v1"
    code, out, err = run_cli(capsys, "doctor", "--api-url", url)
    assert code == 1
    assert "PASSW0RDxyz" not in out + err
    assert "credentials" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/api/v1?region=eu",
        "http://127.0.0.1:1/api/v1?",
        "http://127.0.0.1:1/api/v1#frag",
        "http://127.0.0.1:1/api/v1/?key=OTHERSECRETxyz",
    ],
)
def test_a_url_with_a_query_or_fragment_is_refused_quoting_neither(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """`.../api/v1?region=eu` had `/campaigns` appended inside its query: every request
    went to the base path. A query may hold another service's key: it is not shown."""
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    for command in (["doctor"], ["plan", "--api-url", url, "m.yaml"]):
        args = [*command, "--api-url", url] if command == ["doctor"] else command
        code, out, err = run_cli(capsys, *args)
        assert code == 1, (command, out, err)
        assert err.startswith("error: the API URL http://127.0.0.1:1/api/v1"), err
        assert "has a query or a fragment" in err and len(err.strip().splitlines()) == 1
        assert "OTHERSECRET" not in out + err and "region=" not in err and "#frag" not in err


def test_an_endpoint_url_pasted_whole_with_its_query_is_cut_after_api_v1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    url = "http://127.0.0.1:1/api/v1/campaigns/877?x=1"
    code, _out, err = run_cli(capsys, "doctor", "--api-url", url)
    assert code == 1
    assert err.rstrip().endswith("give the base URL alone: try --api-url http://127.0.0.1:1/api/v1")


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://127.0.0.1:1/api?region=eu", "http://127.0.0.1:1/api/v1"),
        ("http://127.0.0.1:1/?region=eu", "http://127.0.0.1:1/api/v1"),
        ("http://127.0.0.1:1/upcall/api/v2#x", "http://127.0.0.1:1/upcall/api/v1"),
    ],
)
def test_a_url_with_a_query_suggests_its_base_as_the_other_hints_do(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, base: str
) -> None:
    """Without /api/v1 in it, the refusal suggested www.upcall.com's URL, where plan and
    doctor suggest the URL's own host with /api/v1 (one `api_v1_path` for all three)."""
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    code, _out, err = run_cli(capsys, "doctor", "--api-url", url)
    assert code == 1
    assert err.rstrip().endswith(f"give the base URL alone: try --api-url {base}"), err


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/api/v1?key=SECRETkey1",
        "https:///api/v1?key=SECRETkey1",
        "example.com/api/v1#SECRETkey1",
        "https://[::1/api/v1?key=SECRETkey1",
        "https://127.0.0.1:abc/api/v1?key=SECRETkey1",
        "https://127.0.0.1:99999/api/v1",
    ],
)
def test_a_url_refused_for_its_scheme_host_or_port_quotes_no_query(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """The refusal of a URL without http(s) or a host quoted it whole, query and all;
    one that urlsplit cannot read (an open bracket, a port that is no number or past
    65535) was an internal error (b51). Each is one line, quoting no query."""
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    for command in ("doctor", "plan"):
        code, out, err = run_cli(capsys, command, "--api-url", url, "--allow-insecure-http")
        assert code == 1, (command, out, err)
        assert "SECRETkey1" not in out + err and "internal error" not in err, (command, err)
        assert "https://www.upcall.com/api/v1" in err, (command, err)
