"""Running the emulator from the command line (`upcall-sync emulator`)."""

from __future__ import annotations

import logging
import signal
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

from upcall_sync.emulator.faults import RANDOM_FAULTS, Faults, RateLimit
from upcall_sync.emulator.modes import DUPLICATE_NUMBER_MESSAGE, VALIDATIONS
from upcall_sync.emulator.server import Emulator
from upcall_sync.emulator.store import Store


@dataclass
class EmulatorOptions:
    host: str = "127.0.0.1"
    port: int = 0
    db: str = ":memory:"
    tokens: list[str] = field(default_factory=list)
    confirmed_numbers: list[str] = field(default_factory=list)
    max_page_size: int = 100
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    faults: list[str] = field(default_factory=list)
    seed: int | None = None
    retry_after: int = 1
    stall_seconds: float = 30.0
    late_commit_every: int = 0
    commit_delay: float = 4.0
    error_style: str = "fields"
    quiet: bool = False
    # the pessimistic readings (modes.py)
    numbers_copy_contacts: bool = False
    duplicate_number_message: str | None = None  # None: the default message
    normalize_filters: bool = False
    no_last_link: bool = False
    no_lists: bool = False
    validation: str = "strict"
    patch_replace: bool = False
    contact_patch_replace: bool = False
    create_ready: bool = False
    normalize_names: bool = False
    page_size_limit: int = 0
    naive_datetimes: bool = False
    http_links: bool = False
    created_200: bool = False
    read_only_tokens: list[str] = field(default_factory=list)
    rate_limit: float = 0.0
    rate_limit_headers: bool = False

    def __post_init__(self) -> None:
        """Option values the command line cannot check by type (ValueError: a usage error)."""
        bad = [k for k in self.faults if k not in RANDOM_FAULTS]
        if bad:
            raise ValueError(
                f"--faults: unknown fault kind(s) {', '.join(bad)}; "
                f"choose from {', '.join(RANDOM_FAULTS)}"
            )
        if self.error_style not in ("fields", "jsonapi"):
            raise ValueError("--error-style must be 'fields' or 'jsonapi'")
        if self.validation not in VALIDATIONS:
            raise ValueError("--validation must be 'strict' or 'lenient'")


def serve(opts: EmulatorOptions) -> int:
    """Serve until SIGINT or SIGTERM; print the base URL first (scripts read it)."""
    faults = Faults(
        rate=opts.fault_rate,
        kinds=tuple(opts.faults) or ("429", "500", "reset", "lost-write"),
        seed=opts.seed,
        retry_after=opts.retry_after,
        stall_seconds=opts.stall_seconds,
        late_commit_every=opts.late_commit_every,
        commit_delay=opts.commit_delay,
    )
    emulator = Emulator(
        Store(opts.db),
        host=opts.host,
        port=opts.port,
        tokens=opts.tokens,
        confirmed_numbers=opts.confirmed_numbers,
        max_page_size=opts.max_page_size,
        latency_ms=opts.latency_ms,
        faults=faults,
        error_style=opts.error_style,
        numbers_copy_contacts=opts.numbers_copy_contacts,
        duplicate_number_message=(
            DUPLICATE_NUMBER_MESSAGE
            if opts.duplicate_number_message is None
            else opts.duplicate_number_message
        ),
        normalize_filters=opts.normalize_filters,
        no_last_link=opts.no_last_link,
        no_lists=opts.no_lists,
        validation=opts.validation,
        patch_replace=opts.patch_replace,
        contact_patch_replace=opts.contact_patch_replace,
        create_ready=opts.create_ready,
        normalize_names=opts.normalize_names,
        page_size_limit=opts.page_size_limit,
        naive_datetimes=opts.naive_datetimes,
        http_links=opts.http_links,
        created_200=opts.created_200,
        read_only_tokens=opts.read_only_tokens,
        rate_limit=(
            RateLimit(opts.rate_limit, headers=opts.rate_limit_headers)
            if opts.rate_limit > 0
            else None
        ),
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("emulator: %(message)s"))
    emu_log = logging.getLogger("upcall_sync.emulator")
    emu_log.addHandler(handler)
    emu_log.setLevel(logging.WARNING if opts.quiet else logging.INFO)
    emu_log.propagate = False

    received: list[int] = []  # the handler only appends: it takes no lock

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    # SIGINT/SIGTERM stop it, but a signal it was started ignoring stays ignored (a
    # script's `upcall-sync emulator &` must not stop on the Ctrl-C meant for the script)
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {
        s: signal.signal(s, on_signal) for s in stops if signal.getsignal(s) is not signal.SIG_IGN
    }
    emulator.start()
    print(emulator.base_url, flush=True)
    print(
        f"emulator: serving {len(opts.tokens)} account(s) on {emulator.base_url} "
        f"(database {opts.db}); Ctrl-C stops it",
        file=sys.stderr,
        flush=True,
    )
    try:
        while not received:
            time.sleep(0.2)  # the handler runs at once; the sleep then resumes (PEP 475)
    finally:
        emulator.stop()
        emulator.store.close()
        for sig, old in previous.items():
            signal.signal(sig, old)
        print("emulator: stopped", file=sys.stderr, flush=True)
    return 0
