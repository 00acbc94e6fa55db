#!/usr/bin/env bash
# Step 1 of the upcall-sync Action: install upcall-sync into a venv of its own.
#
# INPUT_INSTALL empty (the default): install from the Action's own checkout
# ($GITHUB_ACTION_PATH) with its pinned constraints.txt, so the version is the
# ref the workflow names in `uses:` and nothing but the package index is needed.
# Otherwise INPUT_INSTALL is a pip requirement (`upcall-sync==0.2.0`, a git URL).
# Prints nothing secret; writes `python=...` to $GITHUB_OUTPUT.
set -euo pipefail

py="${INPUT_PYTHON:-python3}"
src="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set}"
venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/upcall-sync-venv"

if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "::error title=upcall-sync::needs Python 3.11 or newer as '$py' (use actions/setup-python or set the python input)"
    exit 1
fi

if [ -n "${INPUT_INSTALL:-}" ]; then
    want="requirement ${INPUT_INSTALL}"
else
    # the checkout's path (one per ref) and its sources, not only its pins: another ref, or
    # changed code with the same pins, must not reuse the venv installed from the first
    want="checkout $src $( (cat "$src/pyproject.toml" "$src/constraints.txt"; find "$src/upcall_sync" -type f -name '*.py' -print0 | LC_ALL=C sort -z | xargs -0 cat) | "$py" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
fi
stamp="$venv/.upcall-sync-source"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "upcall-sync already installed in $venv"
else
    rm -rf "$venv"
    "$py" -m venv "$venv"
    # --no-compile: the venv lives for one job, and Python compiles what it imports.
    pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile)
    if [ -n "${INPUT_INSTALL:-}" ]; then
        "${pip[@]}" "$INPUT_INSTALL"
    else
        "${pip[@]}" -c "$src/constraints.txt" "$src"
    fi
    echo "$want" > "$stamp"
fi
"$venv/bin/upcall-sync" --version
echo "python=$venv/bin/python" >> "${GITHUB_OUTPUT:-/dev/null}"
echo "$venv/bin" >> "${GITHUB_PATH:-/dev/null}"
