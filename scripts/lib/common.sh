# shellcheck shell=bash
# Helpers shared by the operator scripts. Sourced, never executed.

KAIROS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="${KAIROS_STATE_DIR:-$KAIROS_ROOT/.state/hetzner}"
TF_DIR="$KAIROS_ROOT/infra/terraform/hetzner"
VERSIONS_FILE="$KAIROS_ROOT/k8s/platform/versions.conf"
ENV_FILE="${KAIROS_ENV_FILE:-$KAIROS_ROOT/scripts/hetzner/bootstrap-secrets.env}"
# Generated Knative manifests and function sources (overridable for tests).
KNATIVE_DIR="${KAIROS_KNATIVE_DIR:-$KAIROS_ROOT/k8s/knative}"
FUNCTIONS_DIR="${KAIROS_FUNCTIONS_DIR:-$KAIROS_ROOT/functions}"
export KUBECONFIG="${KAIROS_KUBECONFIG:-$STATE_DIR/kubeconfig.yaml}"
export KAIROS_ROOT STATE_DIR TF_DIR VERSIONS_FILE ENV_FILE KNATIVE_DIR FUNCTIONS_DIR

if [[ -t 2 ]]; then
  _c_info=$'\033[1;34m' _c_warn=$'\033[1;33m' _c_err=$'\033[1;31m' _c_off=$'\033[0m'
else
  _c_info='' _c_warn='' _c_err='' _c_off=''
fi
log() { printf '%s==>%s %s\n' "$_c_info" "$_c_off" "$*" >&2; }
warn() { printf '%swarning:%s %s\n' "$_c_warn" "$_c_off" "$*" >&2; }
die() {
  printf '%serror:%s %s\n' "$_c_err" "$_c_off" "$*" >&2
  exit 1
}

# require_cmd NAME HINT: stop with an install hint when a prerequisite is missing.
require_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is required but not installed. $2"
}

# The pinned versions (k8s/platform/versions.conf): the only place they are written.
load_versions() {
  [[ -r "$VERSIONS_FILE" ]] || die "versions file $VERSIONS_FILE is missing"
  set -a
  # shellcheck source=/dev/null
  source "$VERSIONS_FILE"
  set +a
}

# The operator's local, git-ignored secrets (scripts/hetzner/bootstrap-secrets.env).
load_env_file() {
  [[ -r "$ENV_FILE" ]] || die "env file $ENV_FILE not found: copy scripts/hetzner/bootstrap-secrets.env.example to it and fill it in"
  if git -C "$KAIROS_ROOT" ls-files --error-unmatch "$ENV_FILE" >/dev/null 2>&1; then
    die "$ENV_FILE is tracked by git: it holds secrets; git rm --cached it first"
  fi
  set -a
  # shellcheck source=/dev/null
  source "$ENV_FILE"
  set +a
}

# require_var NAME HINT: a setting the env file must provide.
require_var() {
  [[ -n "${!1:-}" ]] || die "$1 is not set in $ENV_FILE. $2"
}

python_bin() {
  if [[ -x "$KAIROS_ROOT/.venv/bin/python" ]]; then
    printf '%s\n' "$KAIROS_ROOT/.venv/bin/python"
  else
    die "the repository's virtualenv is missing: run 'make test' or 'python3.11 -m venv .venv && .venv/bin/pip install -e .' first"
  fi
}

# retry SECONDS INTERVAL DESCRIPTION CMD...: rerun CMD until it succeeds or time runs out.
retry() {
  local timeout="$1" interval="$2" what="$3"
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for $what"
    sleep "$interval"
  done
}

require_kubeconfig() {
  require_cmd kubectl "Install kubectl: https://kubernetes.io/docs/tasks/tools/"
  [[ -r "$KUBECONFIG" ]] || die "no kubeconfig at $KUBECONFIG: run 'make infra-up' (or scripts/bootstrap.sh infra-up) first"
  kubectl version --request-timeout=10s >/dev/null 2>&1 || die "the cluster API in $KUBECONFIG does not answer; is the server up and your IP in operator_cidrs?"
}
