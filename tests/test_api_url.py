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
