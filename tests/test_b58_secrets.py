"""Values shaped like credentials (review b58 of d610ff4): an all-capitals word of a pitch
that starts with ASIA or AKIA was taken for an AWS access key id (no end to the match),
while GitLab's CI_JOB_TOKEN (`glcbt-`), deploy and runner tokens, an Azure SAS, Google,
SendGrid, HubSpot, Twilio, Slack app keys and Stripe's webhook secret went through to the PR comment."""

from __future__ import annotations

import pytest

from upcall_sync.manifest.envvars import refused_variable


@pytest.mark.parametrize(
    "value",
    [
        "ASIAPACIFICSUMMIT2026 CALL NOW",
        "Join the ASIANMARKETSOUTREACH2026 roadshow",
        "AKIAWAREOFTHISOFFERNOW today",
        "3f2b8c1e-9d4a-4e7b-8f3a-2c1d5e6f7a8b",
        "https://example.com/landing?utm_source=upcall&utm_campaign=q3",
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
        "+16507991144,+14155550132",
        "sk-summer-promo",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",  # a test key: no live money (as before)
        "Bearer bonds are not for sale",
    ],
)
def test_ordinary_values_are_read(value: str) -> None:
    assert refused_variable("PITCH", {"PITCH": value}) is None


@pytest.mark.parametrize(
    "value",
    [
        "AKIAIOSFODNN7EXAMPLE",
        "key AKIAIOSFODNN7EXAMPLE:secret",
        "glcbt-64_abcdefghijklmnopqrstu",  # CI_JOB_TOKEN
        "gldt-abcdefghijklmnopqrst",
        "glrt-abcdefghijklmnopqrst",
        "glptt-0123456789abcdef0123456789abcdef01234567",
        "https://acct.blob.core.windows.net/c/f?sv=2022-11-02&sp=r&sig=AbCdEfGhIjKlMnOpQrStUv%2BE%3D",
        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=AbCdEfGhIjKlMnOpQrStUvWxYz01==",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
        "ya29.a0AfH6SMBx1234567890abcdefghijklmnop",
        "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",
        "pat-na1-3f2b8c1e-9d4a-4e7b-8f3a-2c1d5e6f7a8b",
        "SK0123456789abcdef0123456789abcdef",
        "xapp-1-A0123456789-0123456789012-abcdef0123456789",
        "whsec_abcdefghijklmnopqrstuvwxyz012345",
        "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789",
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789",
        "Bearer abcdefghijklmnop0123456789",
    ],
)
def test_credentials_are_refused_whatever_the_name(value: str) -> None:
    why = refused_variable("GREETING", {"GREETING": value})
    assert why is not None and "looks like a credential" in why
    assert value not in why
