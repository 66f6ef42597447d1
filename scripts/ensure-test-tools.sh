#!/usr/bin/env bash
# Installs the command-line tools tests/infra need, when they are missing:
#   - shellcheck: Debian package (apt-get; `apt-get update` only when it is missing)
#   - checkov: in its own virtualenv .venv-tools/ (its pins clash with the app's)
#   - chromium + chromium-driver: Debian packages, for the dashboard's browser test
#   - LocalStack (S3 only, for the archive): in its own virtualenv .venv-localstack/, pinned
#     by scripts/localstack/constraints.txt (its boto3/cryptography pins clash with the app's)
# Idempotent and quick when both are present (no network then). A failed install is a
# warning, not an error: the tests that need the tool skip and name it.
# Run by `make test` before pytest (and by `make run` with the argument `localstack`, which
# installs only that); safe to run by hand. Arguments: the tools to ensure (default: all).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_VENV="$ROOT/.venv-tools"
CHECKOV_VERSION="3.3.30"

warn() { printf 'ensure-test-tools: warning: %s\n' "$*" >&2; }
info() { printf 'ensure-test-tools: %s\n' "$*" >&2; }

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 1
  fi
}

# apt_install WHAT SKIPS PACKAGE...: install Debian packages as root (or through passwordless
# sudo), `apt-get update` first; a failure is a warning saying what SKIPS.
apt_install() {
  local what=$1 skips=$2
  shift 2
  if ! command -v apt-get >/dev/null 2>&1; then
    warn "$what is missing and apt-get is not available: $skips"
    return 1
  fi
  info "installing $* (apt-get)"
  if as_root apt-get update -qq >/dev/null &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; then
    return 0
  fi
  warn "could not install $* (needs root or passwordless sudo, and the Debian mirror): $skips"
  return 1
}

# venv_install NAME TAG VENV PYTHONS SKIPS PIP_ARGS...: a tool whose pins clash with the app's
# lives in a virtualenv of its own. Made with the first interpreter of PYTHONS (space-separated
# names) on PATH, then `pip install PIP_ARGS`; the stamp VENV/.NAME-TAG records which install
# is there, so a changed TAG (version, hash of the pins) reinstalls and an unchanged one costs
# nothing. A failure is a warning naming pip's log and what SKIPS.
venv_install() {
  local name=$1 tag=$2 venv=$3 pythons=$4 skips=$5
  shift 5
  local stamp="$venv/.$name-$tag"
  [[ -x "$venv/bin/python" && -f "$stamp" ]] && return 0
  local python="" candidate
  for candidate in $pythons; do
    python="$(command -v "$candidate" || true)"
    [[ -n "$python" ]] && break
  done
  if [[ -z "$python" ]]; then
    warn "$name needs $pythons (none on PATH) to create $venv: $skips"
    return 0
  fi
  info "installing $name ($tag) into $venv (about 30 s)"
  local log="${TMPDIR:-/tmp}/kairos-$name-install.$$.log"
  if "$python" -m venv "$venv" &&
    printf '*\n' >"$venv/.gitignore" &&
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >"$log" 2>&1; then
    rm -f "$venv/.$name"-* "$log"
    touch "$stamp"
    info "$name installed"
  else
    tail -n 20 "$log" >&2 || true
    warn "could not install $name into $venv (PyPI unreachable? log: $log): $skips"
  fi
}

ensure_shellcheck() {
  command -v shellcheck >/dev/null 2>&1 && return 0
  if apt_install shellcheck "shell-script lint tests will skip" shellcheck; then
    info "shellcheck $(shellcheck --version | sed -n 's/^version: //p') installed"
  fi
}

ensure_checkov() {
  venv_install checkov "$CHECKOV_VERSION" "$TOOLS_VENV" "python3.11 python3" "checkov tests will skip" \
    "checkov==$CHECKOV_VERSION"
}

ensure_localstack() {
  local constraints="$ROOT/scripts/localstack/constraints.txt" pins
  pins="$(sha256sum "$constraints" | cut -c1-12)"
  # LocalStack 4.13 needs Python 3.11.
  venv_install localstack "$pins" "$ROOT/.venv-localstack" python3.11 "archive tests will skip" \
    -c "$constraints" 'localstack-core[base-runtime]==4.13.1' localstack-client==2.12 service-identity==24.2.0 \
    'cbor2<5.7' 'pyopenssl<24.3'
}

# Headless Chromium and its driver (Debian packages) for the dashboard's browser test.
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && return 0
  if apt_install chromium "the dashboard browser test will skip" chromium chromium-driver; then
    info "chromium installed"
  fi
}

tools=("$@")
[[ ${#tools[@]} -eq 0 ]] && tools=(shellcheck checkov localstack chromium)
for tool in "${tools[@]}"; do
  case "$tool" in
    shellcheck) ensure_shellcheck ;;
    checkov) ensure_checkov ;;
    localstack) ensure_localstack ;;
    chromium) ensure_chromium ;;
    *) warn "unknown tool $tool (known: shellcheck checkov localstack chromium)" ;;
  esac
done
