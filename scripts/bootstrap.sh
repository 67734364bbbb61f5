#!/usr/bin/env bash
# Create .venv, install cryptopos with its extras and dev tools, and the system libraries it needs.
# Idempotent; called by `make` when pyproject.toml changes.
set -euo pipefail
PY=${PY:-python3}

"$PY" - <<'PYCHECK' || { echo "cryptopos needs Python >= 3.11 (found: $("$PY" --version 2>&1)); set PY=python3.11" >&2; exit 2; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PYCHECK

# System packages: libzbar0 (pyzbar's QR decoder), libusb-1.0-0 (USB NFC readers and receipt
# printers), librsvg2-bin (SVG -> PNG for TUI screenshots), chromium (the browser test of
# `cryptopos serve`, driven by Playwright without a browser download). Installed when missing and possible.
missing=()
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have_lib 'libzbar.so.0' || missing+=(libzbar0)
have_lib 'libusb-1.0.so.0' || missing+=(libusb-1.0-0)
command -v rsvg-convert >/dev/null 2>&1 || missing+=(librsvg2-bin)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing system packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } \
            || echo "warning: could not install ${missing[*]}; run: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    else
        echo "note: missing system packages ${missing[*]}; install them with:" >&2
        echo "      sudo apt-get install --no-install-recommends ${missing[*]}" >&2
        echo "      (the terminal runs without them; pyzbar decoding, USB readers and printers, PNG screenshots" >&2
        echo "      need them, and without chromium the browser test of 'cryptopos serve' fails saying so)" >&2
    fi
fi

# pip run quietly; its output is shown only when it fails (minus a local index's location notices).
pip_q() {
    local out
    if ! out=$(.venv/bin/python -m pip install -q "$@" 2>&1); then
        grep -v '^WARNING: Location' <<<"$out" >&2
        return 1
    fi
}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip_q --upgrade pip
pip_q -e '.[all,dev]'
.venv/bin/python -c 'import terminal, drivers, backend_stub' \
    || { echo "install failed: see the pip output above" >&2; exit 1; }
