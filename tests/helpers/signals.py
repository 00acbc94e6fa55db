"""Child processes that are sent SIGINT."""

from __future__ import annotations

import signal


def default_sigint() -> None:
    """A `preexec_fn`: SIGINT as on a terminal. A suite started in the background without
    job control (a CI step, `pytest &`) runs with SIGINT ignored, its children inherit
    that, and every command leaves a signal it was started ignoring ignored: a child
    sent SIGINT would then never see it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
