#!/usr/bin/env bash
# Steps 1 and 3 of the upcall-sync Action: install upcall-sync into a venv of its own.
#
#   install.sh key   -> writes key=... and venv=... to $GITHUB_OUTPUT (for actions/cache)
#   install.sh       -> installs (unless the venv, maybe restored from the cache, is current)
#
# INPUT_INSTALL empty (the default): install from the Action's own checkout
# ($GITHUB_ACTION_PATH) with its pinned constraints.txt, so the version is the
# ref the workflow names in `uses:` and nothing but the package index is needed.
# Otherwise INPUT_INSTALL is a pip requirement (`upcall-sync==0.2.0`, a git URL).
#
# Only `upcall-sync` goes on PATH (a folder holding one link to it), never the venv's
# bin: later steps' python3 and pip stay the runner's. Prints nothing secret.
set -euo pipefail

py="${INPUT_PYTHON:-python3}"
src="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set}"
# one fixed place per runner: a venv is not relocatable, and the cache restores it here
venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/upcall-sync-venv"
bin="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/upcall-sync-bin"

if [ -n "${UPCALL_SYNC_STAMP:-}" ]; then
    want="$UPCALL_SYNC_STAMP"  # worked out (and the Python checked) by the key step
else
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "::error title=upcall-sync::needs Python 3.11 or newer as '$py' (use actions/setup-python or set the python input)"
    exit 1
fi
# the Python, the checkout's pins and its sources: another ref, or changed code with
# the same pins, must not reuse the venv installed from the first (one Python start)
if [ -n "${INPUT_INSTALL:-}" ]; then
    want=$(printf '%s' "$INPUT_INSTALL" | "$py" -c 'import platform, sys; print("requirement", sys.stdin.read() + ";", platform.python_implementation(), *sys.version_info[:3], sys.platform, platform.machine())')
else
    want=$( (cat "$src/pyproject.toml" "$src/constraints.txt"; find "$src/upcall_sync" -type f -name '*.py' -print0 | LC_ALL=C sort -z | xargs -0 cat) | "$py" -c 'import hashlib, platform, sys; print(f"checkout {sys.argv[1]};", platform.python_implementation(), *sys.version_info[:3], sys.platform, platform.machine(), hashlib.sha256(sys.stdin.buffer.read()).hexdigest())' "$src")
fi
fi

if [ "${1:-}" = "key" ]; then
    key=$(printf '%s' "$want" | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-32)
    {
        echo "key=upcall-sync-venv-${RUNNER_OS:-$(uname -s)}-$key"
        echo "venv=$venv"
        echo "stamp=$want"
    } >> "${GITHUB_OUTPUT:-/dev/null}"
    exit 0
fi

stamp="$venv/.upcall-sync-source"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "upcall-sync already installed in $venv"
else
    rm -rf "$venv"
    "$py" -m venv "$venv"
    # --no-compile: Python compiles what it imports.
    pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile)
    if [ -n "${INPUT_INSTALL:-}" ]; then
        "${pip[@]}" "$INPUT_INSTALL"
    else
        "${pip[@]}" -c "$src/constraints.txt" "$src"
    fi
    echo "$want" > "$stamp"
fi
"$venv/bin/python" -c 'import upcall_sync; print("upcall-sync", upcall_sync.__version__)'
mkdir -p "$bin"
ln -sf "$venv/bin/upcall-sync" "$bin/upcall-sync"
echo "python=$venv/bin/python" >> "${GITHUB_OUTPUT:-/dev/null}"
echo "$bin" >> "${GITHUB_PATH:-/dev/null}"
