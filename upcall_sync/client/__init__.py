"""The Upcall v1 API client: typed methods over one pooled, injected `requests.Session`."""

from upcall_sync.client.api import UpcallClient, resolve_token
from upcall_sync.client.breaker import CircuitBreaker
from upcall_sync.client.models import (
    Address,
    Campaign,
    CampaignAttributes,
    CampaignNumber,
    ContactAttributes,
    ContactList,
    ListContact,
)
from upcall_sync.client.ratelimit import LimiterStatus, RateLimiter
from upcall_sync.client.redact import Redactor, Secret, strip_token
from upcall_sync.client.transport import (
    DEFAULT_BASE_URL,
    Cancelled,
    Page,
    RetryPolicy,
    Timeouts,
    Transport,
    make_session,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "Address",
    "Campaign",
    "CampaignAttributes",
    "CampaignNumber",
    "Cancelled",
    "CircuitBreaker",
    "ContactAttributes",
    "ContactList",
    "LimiterStatus",
    "ListContact",
    "Page",
    "RateLimiter",
    "Redactor",
    "RetryPolicy",
    "Secret",
    "Timeouts",
    "Transport",
    "UpcallClient",
    "make_session",
    "resolve_token",
    "strip_token",
]
