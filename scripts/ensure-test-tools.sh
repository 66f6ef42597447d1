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

ensure_shellcheck() {
  command -v shellcheck >/dev/null 2>&1 && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    warn "shellcheck is missing and apt-get is not available: shell-script lint tests will skip"
    return 0
  fi
  info "installing shellcheck (apt-get)"
  if as_root apt-get update -qq >/dev/null &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; then
    info "shellcheck $(shellcheck --version | sed -n 's/^version: //p') installed"
  else
    warn "could not install shellcheck (needs root or passwordless sudo, and the Debian mirror): shell-script lint tests will skip"
  fi
}

ensure_checkov() {
  local stamp="$TOOLS_VENV/.checkov-$CHECKOV_VERSION"
  [[ -x "$TOOLS_VENV/bin/checkov" && -f "$stamp" ]] && return 0
  local python
  python="$(command -v python3.11 || command -v python3 || true)"
  if [[ -z "$python" ]]; then
    warn "no python3 to create $TOOLS_VENV: checkov tests will skip"
    return 0
  fi
  info "installing checkov $CHECKOV_VERSION into $TOOLS_VENV (about 30 s)"
  local log="${TMPDIR:-/tmp}/kairos-checkov-install.$$.log"
  if "$python" -m venv "$TOOLS_VENV" &&
    printf '*\n' >"$TOOLS_VENV/.gitignore" &&
    "$TOOLS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      "checkov==$CHECKOV_VERSION" >"$log" 2>&1; then
    rm -f "$TOOLS_VENV"/.checkov-* "$log"
    touch "$stamp"
    info "checkov $CHECKOV_VERSION installed"
  else
    tail -n 20 "$log" >&2 || true
    warn "could not install checkov into $TOOLS_VENV (PyPI unreachable? log: $log): checkov tests will skip"
  fi
}

ensure_localstack() {
  local venv="$ROOT/.venv-localstack"
  local constraints="$ROOT/scripts/localstack/constraints.txt"
  local pins stamp
  pins="$(sha256sum "$constraints" | cut -c1-12)"
  stamp="$venv/.localstack-$pins"
  [[ -x "$venv/bin/python" && -f "$stamp" ]] && return 0
  local python
  python="$(command -v python3.11 || true)"
  if [[ -z "$python" ]]; then
    warn "python3.11 is missing (LocalStack 4.13 needs it): archive tests will skip"
    return 0
  fi
  info "installing LocalStack S3 into $venv (about 30 s)"
  local log="${TMPDIR:-/tmp}/kairos-localstack-install.$$.log"
  if "$python" -m venv "$venv" &&
    printf '*\n' >"$venv/.gitignore" &&
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$constraints" \
      'localstack-core[base-runtime]==4.13.1' localstack-client==2.12 service-identity==24.2.0 \
      'cbor2<5.7' 'pyopenssl<24.3' >"$log" 2>&1; then
    rm -f "$venv"/.localstack-* "$log"
    touch "$stamp"
    info "LocalStack installed"
  else
    tail -n 20 "$log" >&2 || true
    warn "could not install LocalStack into $venv (PyPI unreachable? log: $log): archive tests will skip"
  fi
}

# Headless Chromium and its driver (Debian packages) for the dashboard's browser test.
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    warn "chromium is missing and apt-get is not available: the dashboard browser test will skip"
    return 0
  fi
  info "installing chromium and chromium-driver (apt-get)"
  if as_root apt-get update -qq >/dev/null &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; then
    info "chromium installed"
  else
    warn "could not install chromium/chromium-driver: the dashboard browser test will skip"
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
