"""`${VAR}` in manifest text: an environment variable's value, never a credential's.

A manifest's values are printed in plans and PR comments, and a pull request's author
writes the manifest: a variable that holds a secret must not be read. Refused: the
tool's own credential variables, names that say they hold a secret, values shaped like
one (a JWT, a private key, a known service's token, a URL with credentials, the auth
token itself); and, when the job sets UPCALL_MANIFEST_ENV, every name it does not list.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping

_ENV = re.compile(r"\$(\$?)\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: the tool's own credential variables, and names that say they hold a secret
#: (GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, DB_PASSWORD ...): a manifest's values are
#: printed in plans and PR comments, so a manifest may not read them
CREDENTIAL_VARIABLES = ("UPCALL_AUTH_TOKEN", "UPCALL_AUTH_TOKEN_FILE")
#: when set (by the CI job, never by a manifest), the only variables `${VAR}` may read:
#: names or globs (`STAGE`, `CAMPAIGN_*`), separated by commas, semicolons or spaces; empty: none.
#: A name list cannot miss a secret the way a list of secret-looking names can.
ALLOWLIST = "UPCALL_MANIFEST_ENV"
_SECRET_NAME = re.compile(
    # anywhere in the name: PGPASSWORD, GHTOKEN, MY_SECRETS, GPG_PASSPHRASE
    r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY"
    # an HTTP Authorization value (AUTH as a word was refused, AUTHORIZATION read), a
    # .netrc's passwords: HTTP_AUTHORIZATION, NETRC_FILE_CONTENT
    r"|AUTHORIZATION|NETRC"
    # a signed identity: GitLab's CI_JOB_JWT, CI_JOB_JWT_V2; BEARER_HEADER
    r"|JWT|BEARER"
    # as a word of it: STRIPE_KEY, SSH_KEYS, DOCKER_PASS, MYSQL_PWD, GH_PAT, AWS_CREDS,
    # SLACK_WEBHOOK, SENTRY_DSN, SSH_PRIVATE, SIGNING_HMAC
    r"|(^|_)(KEYS?|PASS|PWD|PATS?|CREDS?|AUTH|DSN|WEBHOOKS?|COOKIES?|PRIVATE|HMAC)(_|$)"
    r"|^UPCALL_AUTH",
    re.IGNORECASE,
)
#: a URL that carries credentials: a password (`postgres://user:pass@host/db`,
#: DATABASE_URL) or a user part alone, which is how tokens ride in URLs
#: (`https://ghp_x@github.com/org/repo`); a user part alone ends where the host part
#: may (`/`, `?`, `#`), so an address in a query (`https://host?to=a@b.example`) is no
#: user part, while a password may hold any of them (written unescaped all the same: a
#: base64 one holds `/`), unless it is a port (digits, then `/`, `?` or `#`:
#: `https://host:443/@acme`), or be empty: a token as the user before a bare `:`
#: (`https://tok_x:@api.example`)
_URL_WITH_PASSWORD = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://"
    r"(?:[^/\s:@]*:(?!\d+[/?#])[^\s@]*|(?!git@)[^/?#\s:@]+)@"
)
#: a value that is a credential whatever its variable is called: a JWT (an OIDC or job
#: identity token: three base64url parts, the first a JSON header), a private key in PEM,
#: or a token with its issuer's prefix (GitHub's `ghp_`, `ghs_`, `github_pat_`; GitLab's
#: `glpat-`, `glcbt-` (CI_JOB_TOKEN), `gldt-`, `glrt-`, `glptt-` ...; Slack's `xoxb-`,
#: `xapp-`; an AWS access key id, exactly 20 characters, so `ASIAPACIFICSUMMIT2026` in a
#: pitch is text; Stripe's `sk_live_`, `whsec_` (a test key is no secret); npm's `npm_`; Google's
#: `AIza`, `ya29.`; SendGrid's `SG.`; HubSpot's `pat-na1-`; Twilio's `SK` key; OpenAI's
#: `sk-proj-`, Anthropic's `sk-ant-`), an Azure SAS signature or storage account key, or
#: an HTTP `Bearer` credential
_SECRET_VALUE = re.compile(
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r"|-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"
    r"|\b(?:gh[opsur]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|gl(?:pat|cbt|dt|rt|ptt|ft|imt|oas|soat|agent|wt|ffct)-[A-Za-z0-9_-]{20,}"
    r"|xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Za-z])|[sr]k_live_[A-Za-z0-9]{16,}"
    r"|whsec_[A-Za-z0-9+/=]{20,}|npm_[A-Za-z0-9]{30,}|AIza[0-9A-Za-z_-]{35}"
    r"|ya29\.[0-9A-Za-z_-]{20,}|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"
    r"|pat-(?:na|eu)\d-[0-9a-f]{8}-[0-9a-f]{4}-|SK[0-9a-fA-F]{32}(?![0-9A-Za-z])"
    r"|sk-(?:proj|ant|svcacct|admin)-[A-Za-z0-9_-]{20,}|sk-[A-Za-z0-9]{40,})"
    r"|[?&;]sig=[A-Za-z0-9%+/=]{20,}|AccountKey=[A-Za-z0-9+/=]{20,}"
    r"|\bBearer\s+[A-Za-z0-9._~+/-]{20,}"
)
#: a token shorter than this is not looked for inside other variables' values
_MIN_TOKEN_LENGTH = 8


def refused_variable(name: str, environ: Mapping[str, str]) -> str | None:
    """Why `${name}` may not be read by a manifest, or None when it may."""
    if name in CREDENTIAL_VARIABLES or _SECRET_NAME.search(name):
        return (
            f"${{{name}}} is refused: a manifest may not read credentials (its values are "
            "printed in plans and PR comments)"
        )
    allowed = environ.get(ALLOWLIST)
    if allowed is not None and not any(
        fnmatch.fnmatchcase(name, pattern) for pattern in re.split(r"[\s,;]+", allowed) if pattern
    ):
        return (
            f"${{{name}}} is refused: it is not among the variables {ALLOWLIST} lets a "
            "manifest read (its values are printed in plans and PR comments)"
        )
    token = environ.get("UPCALL_AUTH_TOKEN", "").strip()
    if len(token) >= _MIN_TOKEN_LENGTH and token in environ.get(name, ""):
        return f"${{{name}}} is refused: its value holds the auth token"
    if _URL_WITH_PASSWORD.search(environ.get(name, "")):
        return f"${{{name}}} is refused: its value is a URL with credentials"
    if _SECRET_VALUE.search(environ.get(name, "")):
        return (
            f"${{{name}}} is refused: its value looks like a credential (a signed token, a "
            "private key, or a token of a known service)"
        )
    return None


def expand_env(value: str, environ: Mapping[str, str]) -> str:
    """`${VAR}` takes the variable's value; `$${` writes a literal `${`.

    Raises KeyError(name) for an unset variable, ValueError for a bad name or a
    credential (`refused_variable`).
    """
    if "$" not in value:
        return value

    def sub(match: re.Match[str]) -> str:
        if match.group(1):
            return "${" + match.group(2) + "}"
        name = match.group(2)
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(f"${{{name}}} is not a valid environment variable reference")
        refused = refused_variable(name, environ)
        if refused:
            raise ValueError(refused)
        if name not in environ:
            raise KeyError(name)
        return environ[name]

    return _ENV.sub(sub, value)
