"""The Upcall v1 API client: typed methods over one pooled, injected `requests.Session`."""

from upcall_sync.client.api import NUMBER_TYPES, UpcallClient, resolve_token
from upcall_sync.client.breaker import CircuitBreaker
from upcall_sync.client.connection import (
    DEFAULT_PARALLELISM,
    Connection,
    read_token,
    timeouts_for,
)
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
from upcall_sync.client.observe import PageObserver, PageRead
from upcall_sync.client.pager import DEFAULT_PAGE_SIZE, Page
from upcall_sync.client.ratelimit import LimiterStatus, RateLimiter
from upcall_sync.client.resources import contact_row
from upcall_sync.client.rows import CONTACT_KEYS, ContactRow, NumberRow
from upcall_sync.client.slots import WORKERS_PER_SLOT
from upcall_sync.client.transport import (
    DEFAULT_BASE_URL,
    RetryPolicy,
    Timeouts,
    Transport,
    make_session,
)
from upcall_sync.errors import Cancelled
from upcall_sync.redact import Redactor, Secret, strip_token

__all__ = [
    "CONTACT_KEYS",
    "DEFAULT_BASE_URL",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_PARALLELISM",
    "NUMBER_TYPES",
    "WORKERS_PER_SLOT",
    "Address",
    "Campaign",
    "CampaignAttributes",
    "CampaignNumber",
    "Cancelled",
    "CircuitBreaker",
    "Connection",
    "ContactAttributes",
    "ContactList",
    "ContactRow",
    "LimiterStatus",
    "ListContact",
    "Listing",
    "NumberRow",
    "Page",
    "PageObserver",
    "PageRead",
    "RateLimiter",
    "Redactor",
    "RetryPolicy",
    "Secret",
    "Timeouts",
    "Transport",
    "UpcallClient",
    "contact_row",
    "make_session",
    "read_token",
    "resolve_token",
    "strip_token",
    "submit_all",
    "timeouts_for",
]
