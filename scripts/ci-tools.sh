#!/usr/bin/env bash
# Tools a Forgejo Actions job needs, installed into its container (.forgejo/workflows/).
# The job image is Debian bookworm with Node (for the checkout action); this adds:
#   python   Python 3.11 (bookworm's), venv, make, git
#   docker   the Docker CLI (the runner gives the job a Docker daemon: docs/OPERATIONS.md)
#   kube     kubectl matching the cluster's k3s release and kn matching Knative Serving,
#            at the versions of k8s/platform/versions.conf
#
#   scripts/ci-tools.sh python [docker] [kube]
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
load_versions

apt_install() {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_kube() {
  local k8s="${K3S_VERSION%%+*}" bin=/usr/local/bin
  log "kubectl $k8s, kn $KNATIVE_SERVING_VERSION"
  curl -fsSL -o "$bin/kubectl" "https://dl.k8s.io/release/$k8s/bin/linux/amd64/kubectl"
  curl -fsSL -o "$bin/kn" \
    "https://github.com/knative/client/releases/download/knative-v$KNATIVE_SERVING_VERSION/kn-linux-amd64"
  chmod 0755 "$bin/kubectl" "$bin/kn"
}

[[ $# -gt 0 ]] || die "usage: scripts/ci-tools.sh python [docker] [kube]"
for what in "$@"; do
  case "$what" in
    python) apt_install python3 python3-venv python3-pip make git ca-certificates curl ;;
    docker) apt_install docker.io ;;
    kube) install_kube ;;
    *) die "unknown tool set '$what' (python, docker, kube)" ;;
  esac
done
