"""The Upcall v1 API client: typed methods over one pooled, injected `requests.Session`."""

from upcall_sync.client.api import NUMBER_TYPES, UpcallClient, resolve_token
from upcall_sync.client.breaker import CircuitBreaker
from upcall_sync.client.listings import Listing, submit_all
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
from upcall_sync.client.resources import contact_of, contact_row, live_contact
from upcall_sync.client.transport import (
    DEFAULT_BASE_URL,
    Page,
    RetryPolicy,
    Timeouts,
    Transport,
    make_session,
)
from upcall_sync.errors import Cancelled
from upcall_sync.redact import Redactor, Secret, strip_token

__all__ = [
    "DEFAULT_BASE_URL",
    "NUMBER_TYPES",
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
    "Listing",
    "Page",
    "RateLimiter",
    "Redactor",
    "RetryPolicy",
    "Secret",
    "Timeouts",
    "Transport",
    "UpcallClient",
    "contact_of",
    "contact_row",
    "live_contact",
    "make_session",
    "resolve_token",
    "strip_token",
    "submit_all",
]
