# Sourced by scripts/demo and scripts/test: a .venv with upcall-sync installed from
# the pinned constraints. Needs only Python 3.11+ and the package index.
# Usage: ensure_venv EXTRAS   (EXTRAS: "" for the tool, "dev" for tests)
ensure_venv() {
    local extras="$1" py="${PYTHON:-python3}" venv="${UPCALL_SYNC_VENV:-.venv}"
    if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "error: upcall-sync needs Python 3.11 or newer as '$py' (set PYTHON=...)" >&2
        return 1
    fi
    if [ ! -x "$venv/bin/python" ]; then
        "$py" -m venv "$venv"
    fi
    local stamp="$venv/.upcall-sync-installed-${extras:-base}"
    local want
    want=$(cat pyproject.toml constraints.txt | "$venv/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        local target="."
        [ -n "$extras" ] && target=".[$extras]"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            -c constraints.txt -e "$target"
        echo "$want" > "$stamp"
    fi
    export PATH="$PWD/$venv/bin:$PATH"
}
