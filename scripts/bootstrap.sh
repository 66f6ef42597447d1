#!/usr/bin/env bash
# From an empty Hetzner Cloud project to a running Kairos, from the operator's workstation.
#
#   scripts/bootstrap.sh [STEP...]
#
# Steps (default: all, in this order; each is idempotent and can be rerun alone):
#   infra-up     terraform apply -> wait for cloud-init and the k3s API -> kubeconfig
#   secrets      namespaces + Secrets from the git-ignored env file
#   platform-up  Knative Serving + Kourier, Eventing, eventing-kafka, Strimzi, CloudNativePG
#                (+ KEDA) at the versions of k8s/platform/versions.conf, then Kafka and
#                Postgres (k8s/platform), and wait until all are ready
#   build        build and push one image per function (scripts/function.Dockerfile)
#   deploy       app layer (k8s/app) + generated Knative manifests (k8s/knative) -> rollout
# Other steps: status; render (prints the Knative manifests deploy would apply, with
# their image references, no cluster needed); forgejo (installs Forgejo on the cluster, or
# with FORGEJO_URL set checks an existing one: CI/CD, docs/OPERATIONS.md); infra-down (asks
# for confirmation; FORCE=1 skips the question).
#
# Settings: scripts/hetzner/bootstrap-secrets.env (see its .example; KAIROS_ENV_FILE
# overrides the path) and infra/terraform/hetzner/terraform.tfvars. State (kubeconfig,
# known_hosts) goes to .state/hetzner/. Docs: docs/OPERATIONS.md.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

tf() { terraform -chdir="$TF_DIR" "$@"; }

step_infra_up() {
  require_cmd terraform "Install Terraform >= ${TERRAFORM_MIN_VERSION}: https://developer.hashicorp.com/terraform/install"
  require_cmd ssh "Install an OpenSSH client."
  require_cmd curl "Install curl."
  require_cmd kubectl "Install kubectl: https://kubernetes.io/docs/tasks/tools/"
  load_env_file
  require_var HCLOUD_TOKEN "Create an API token (read/write) in the Hetzner Cloud console: Security > API tokens."
  [[ -r "$TF_DIR/terraform.tfvars" ]] || die "$TF_DIR/terraform.tfvars is missing: copy terraform.tfvars.example and set operator_cidrs"
  export TF_VAR_hcloud_token="$HCLOUD_TOKEN"
  mkdir -p "$STATE_DIR"
  chmod 0700 "$STATE_DIR"

  log "terraform init + apply ($TF_DIR)"
  tf init -input=false -upgrade=false
  tf apply -input=false -auto-approve -var "kubeconfig_path=$KUBECONFIG"

  local ip server_id
  ip="$(tf output -raw server_ipv4)"
  server_id="$(tf output -raw server_id)"
  [[ -n "$ip" ]] || die "terraform has no server_ipv4 output"
  # A rebuilt server keeps its IP but has a new host key: forget the old one (only in our
  # private known_hosts) instead of failing on "host identification has changed".
  if [[ "$(cat "$STATE_DIR/server-id" 2>/dev/null || true)" != "$server_id" ]]; then
    ssh-keygen -R "$ip" -f "$STATE_DIR/known_hosts" >/dev/null 2>&1 || true
    printf '%s\n' "$server_id" >"$STATE_DIR/server-id"
  fi
  fetch_kubeconfig "$ip"
}

ssh_root() {
  local ip="$1"
  shift
  ssh -o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=accept-new \
    -o UserKnownHostsFile="$STATE_DIR/known_hosts" "root@$ip" "$@"
}

fetch_kubeconfig() {
  local ip="$1"
  log "waiting for SSH on $ip (cloud-init runs at first boot)"
  retry 600 10 "SSH on $ip (is your IP in operator_cidrs?)" ssh_root "$ip" true
  log "waiting for cloud-init to finish on $ip (k3s install)"
  # Exit status 2 means "done, with recoverable errors" (e.g. deprecation warnings).
  local rc=0
  ssh_root "$ip" cloud-init status --wait >/dev/null || rc=$?
  case "$rc" in
    0) ;;
    2) warn "cloud-init finished with recoverable errors on $ip: ssh root@$ip 'cloud-init status --long'" ;;
    *) die "cloud-init failed on $ip: ssh root@$ip 'cloud-init status --long; journalctl -u cloud-final'" ;;
  esac
  log "waiting for the k3s API on https://$ip:6443"
  retry 600 5 "the k3s API on $ip:6443" curl -ksf --max-time 5 "https://$ip:6443/ping"
  log "writing $KUBECONFIG"
  local tmp
  tmp="$(mktemp "$STATE_DIR/kubeconfig.XXXXXX")"
  ssh_root "$ip" cat /etc/rancher/k3s/k3s.yaml | sed "s#https://127.0.0.1:6443#https://$ip:6443#" >"$tmp"
  chmod 0600 "$tmp"
  mv "$tmp" "$KUBECONFIG"
  require_kubeconfig
  retry 300 5 "all nodes Ready" kubectl wait node --all --for=condition=Ready --timeout=10s
  kubectl get nodes -o wide
}

step_secrets() {
  require_kubeconfig
  load_env_file
  log "namespaces"
  apply_ssa kairos-platform -f "$KAIROS_ROOT/k8s/platform/namespaces.yaml"
  log "Secrets from $ENV_FILE (templates: k8s/app/secrets/)"
  local py
  py="$(python_bin)"
  "$py" -m kairos.deploy.secrets --env-file "$ENV_FILE" "$KAIROS_ROOT"/k8s/app/secrets/*.yaml | kubectl apply -f -
  if [[ -n "${REGISTRY_SERVER:-}" ]]; then
    require_var REGISTRY_USERNAME "Registry user that may pull the function images."
    require_var REGISTRY_PASSWORD "Registry password or token of REGISTRY_USERNAME."
    kubectl -n kairos create secret docker-registry kairos-registry \
      --docker-server="$REGISTRY_SERVER" --docker-username="$REGISTRY_USERNAME" \
      --docker-password="$REGISTRY_PASSWORD" --dry-run=client -o yaml | kubectl apply -f -
  else
    warn "REGISTRY_SERVER is not set: no pull secret (fine for a public registry)"
  fi
}

# Server-side apply with one field manager per layer, so that re-applying an upstream
# release never removes the keys our own layer sets on the same objects (e.g. Knative's
# config-network) and the other way round.
apply_ssa() {
  local manager="$1"
  shift
  kubectl apply --server-side --force-conflicts --field-manager="$manager" "$@"
}

# apply_url URL: an upstream release manifest (idempotent).
apply_url() {
  log "apply $1"
  apply_ssa kairos-upstream -f "$1"
}

wait_deployments() {
  log "waiting for the deployments in $1"
  kubectl -n "$1" wait deployment --all --for=condition=Available --timeout=600s
}

step_platform_up() {
  require_kubeconfig
  require_cmd curl "Install curl."
  local gh=https://github.com
  local kn_serving="$gh/knative/serving/releases/download/knative-v$KNATIVE_SERVING_VERSION"
  local kn_kourier="$gh/knative-extensions/net-kourier/releases/download/knative-v$NET_KOURIER_VERSION"
  local kn_eventing="$gh/knative/eventing/releases/download/knative-v$KNATIVE_EVENTING_VERSION"
  local kn_kafka="$gh/knative-extensions/eventing-kafka-broker/releases/download/knative-v$EVENTING_KAFKA_VERSION"
  local strimzi="$gh/strimzi/strimzi-kafka-operator/releases/download/$STRIMZI_VERSION/strimzi-cluster-operator-$STRIMZI_VERSION.yaml"
  local cnpg="$gh/cloudnative-pg/cloudnative-pg/releases/download/v$CNPG_VERSION/cnpg-$CNPG_VERSION.yaml"
  local keda="$gh/kedacore/keda/releases/download/v$KEDA_VERSION/keda-$KEDA_VERSION.yaml"

  apply_ssa kairos-platform -f "$KAIROS_ROOT/k8s/platform/namespaces.yaml"

  apply_url "$kn_serving/serving-crds.yaml"
  apply_url "$kn_serving/serving-core.yaml"
  apply_url "$kn_kourier/kourier.yaml"
  apply_url "$kn_eventing/eventing-crds.yaml"
  apply_url "$kn_eventing/eventing-core.yaml"
  apply_url "$kn_kafka/eventing-kafka-controller.yaml"
  apply_url "$kn_kafka/eventing-kafka-source.yaml"
  apply_url "$kn_kafka/eventing-kafka-sink.yaml"

  # Strimzi's bundle targets the namespace "myproject"; ours is "kafka".
  log "apply $strimzi (namespace kafka)"
  curl -fsSL "$strimzi" | sed 's/namespace: myproject/namespace: kafka/g' |
    apply_ssa kairos-upstream -n kafka -f -
  apply_url "$cnpg"
  if [[ "${ENABLE_KEDA:-false}" == "true" ]]; then
    apply_url "$keda"
  fi

  log "waiting for the CRDs"
  kubectl wait crd --all --for=condition=Established --timeout=300s
  for ns in knative-serving kourier-system knative-eventing kafka cnpg-system; do
    wait_deployments "$ns"
  done
  if [[ "${ENABLE_KEDA:-false}" == "true" ]]; then
    wait_deployments keda
    apply_ssa kairos-platform -k "$KAIROS_ROOT/k8s/platform/keda"
  fi

  log "Kairos platform resources (k8s/platform)"
  kubectl kustomize "$KAIROS_ROOT/k8s/platform" | apply_ssa kairos-platform -f -
  if [[ -n "${KNATIVE_DOMAIN:-}" ]]; then
    kubectl -n knative-serving patch configmap config-domain --type merge -p "{\"data\":{\"$KNATIVE_DOMAIN\":\"\"}}"
  fi
  log "waiting for Kafka (kafka/kairos) and Postgres (kairos/kairos-pg); first start takes minutes"
  kubectl -n kafka wait kafka/kairos --for=condition=Ready --timeout=900s
  kubectl -n kairos wait clusters.postgresql.cnpg.io/kairos-pg --for=condition=Ready --timeout=900s
  log "platform ready"
}

image_tag() {
  local sha
  sha="$(git -C "$KAIROS_ROOT" rev-parse --short=12 HEAD)"
  if [[ -n "$(git -C "$KAIROS_ROOT" status --porcelain -- shared functions pyproject.toml)" ]]; then
    sha="$sha-dirty-$(date +%s)"
  fi
  printf '%s\n' "$sha"
}

functions_list() {
  local dir
  for dir in "$FUNCTIONS_DIR"/*/; do
    [[ -d "$dir" ]] && basename "$dir"
  done
}

# Fail early, with the command to run, when pushes would be refused for lack of a login.
check_registry_login() {
  local builder="$1" host="${REGISTRY_SERVER:-${REGISTRY%%/*}}"
  if [[ "$builder" == "podman" ]]; then
    podman login --get-login "$host" >/dev/null 2>&1 && return 0
  elif grep -qF "\"$host\"" "${DOCKER_CONFIG:-$HOME/.docker}/config.json" 2>/dev/null; then
    return 0
  fi
  die "not logged in to the registry $host: run '$builder login $host' or set REGISTRY_USERNAME/REGISTRY_PASSWORD in $ENV_FILE"
}

step_build() {
  load_env_file
  require_var REGISTRY "Image prefix, e.g. registry.example.com/kairos (the images are \$REGISTRY/kairos-<function>)."
  local builder="${IMAGE_BUILDER:-docker}"
  require_cmd "$builder" "Install Docker (with buildx) or set IMAGE_BUILDER=podman."
  if [[ -n "${REGISTRY_SERVER:-}" && -n "${REGISTRY_PASSWORD:-}" ]]; then
    printf '%s' "$REGISTRY_PASSWORD" | "$builder" login "$REGISTRY_SERVER" -u "${REGISTRY_USERNAME:?REGISTRY_USERNAME not set}" --password-stdin >/dev/null ||
      die "registry login to $REGISTRY_SERVER failed: check REGISTRY_USERNAME/REGISTRY_PASSWORD"
  fi
  check_registry_login "$builder"
  local tag fn image
  tag="$(image_tag)"
  [[ -n "$(functions_list)" ]] || die "no function under functions/: nothing to build"
  # Each image installs its function project alone (as `func build` does); the kairos
  # library reaches it as the wheel vendored into functions/<name>/vendor/.
  "$(python_bin)" -m kairos.cli manifests --wheel || die "could not vendor the kairos wheel into functions/*/vendor/"
  while read -r fn; do
    image="$REGISTRY/kairos-$fn:$tag"
    if [[ "$tag" != *-dirty-* ]] && "$builder" manifest inspect "$image" >/dev/null 2>&1; then
      log "$image exists, skipped"
      continue
    fi
    log "build $image"
    local ignore=()
    [[ "$builder" == "podman" ]] && ignore=(--ignorefile "$KAIROS_ROOT/scripts/function.Dockerfile.dockerignore")
    "$builder" build -f "$KAIROS_ROOT/scripts/function.Dockerfile" ${ignore[@]+"${ignore[@]}"} \
      --build-arg "PYTHON_BASE_IMAGE=$PYTHON_BASE_IMAGE" --build-arg "FUNCTION=$fn" \
      -t "$image" "$KAIROS_ROOT"
    "$builder" push "$image" || die "push of $image failed: are you logged in? ($builder login ${REGISTRY_SERVER:-<registry>})"
  done < <(functions_list)
  mkdir -p "$STATE_DIR"
  printf '%s\n' "$tag" >"$STATE_DIR/image-tag"
  log "images tagged $tag (recorded in $STATE_DIR/image-tag)"
}

# The generated Knative manifests name their images kairos-<function> with no registry;
# a throw-away overlay points them at $REGISTRY with the tag that `build` pushed.
render_knative() {
  local out="$STATE_DIR/render" tag="$1" fn
  rm -rf "$out"
  mkdir -p "$out/overlay"
  cp -R "$KNATIVE_DIR" "$out/knative"
  if [[ ! -f "$out/knative/kustomization.yaml" ]]; then
    {
      printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n'
      (cd "$out/knative" && find . -name '*.yaml' -type f ! -name kustomization.yaml | sort | sed 's#^\./#  - #')
    } >"$out/knative/kustomization.yaml"
  fi
  {
    printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../knative\n'
    if [[ -n "$(functions_list)" ]]; then
      printf 'images:\n'
      while read -r fn; do
        printf '  - name: kairos-%s\n    newName: %s/kairos-%s\n    newTag: "%s"\n' "$fn" "$REGISTRY" "$fn" "$tag"
      done < <(functions_list)
    fi
  } >"$out/overlay/kustomization.yaml"
  kubectl kustomize "$out/overlay"
}

require_knative_manifests() {
  [[ -n "$(find "$KNATIVE_DIR" -name '*.yaml' -print -quit 2>/dev/null)" ]] ||
    die "$KNATIVE_DIR has no manifests: run 'make manifests' first"
}

# What `deploy` would apply for the generated manifests, printed; needs no cluster.
step_render() {
  require_cmd kubectl "Install kubectl (its built-in kustomize renders the manifests)."
  load_env_file
  require_var REGISTRY "Image prefix the build step pushes to."
  require_knative_manifests
  local tag="${IMAGE_TAG:-}"
  [[ -n "$tag" ]] || tag="$(cat "$STATE_DIR/image-tag" 2>/dev/null || true)"
  [[ -n "$tag" ]] || die "no image tag: run the build step first, or set IMAGE_TAG"
  render_knative "$tag"
}

step_deploy() {
  require_kubeconfig
  require_cmd kn "Install the Knative CLI: https://knative.dev/docs/client/install-kn/"
  load_env_file
  require_var REGISTRY "Image prefix the build step pushed to."
  [[ -r "$STATE_DIR/image-tag" ]] || die "no $STATE_DIR/image-tag: run the build step first"
  require_knative_manifests
  local tag
  tag="$(cat "$STATE_DIR/image-tag")"
  log "app layer (k8s/app)"
  apply_ssa kairos-app -k "$KAIROS_ROOT/k8s/app"
  log "Knative manifests (k8s/knative) with images $REGISTRY/kairos-<function>:$tag"
  render_knative "$tag" | apply_ssa kairos-app -f -
  log "waiting for every Knative Service to be Ready"
  kubectl -n kairos wait ksvc --all --for=condition=Ready --timeout=600s
  kn service list -n kairos
  kn source list -n kairos || true
  log "deployed $tag"
}

# Forgejo for the CI/CD workflows of .forgejo/workflows: an existing instance (FORGEJO_URL)
# is only checked; otherwise k8s/forgejo/forgejo.yaml is applied with FORGEJO_IMAGE.
step_forgejo() {
  load_env_file
  if [[ -n "${FORGEJO_URL:-}" ]]; then
    require_cmd curl "Install curl."
    curl -fsS "$FORGEJO_URL/api/v1/version" >/dev/null ||
      die "no Forgejo answers at $FORGEJO_URL/api/v1/version: check FORGEJO_URL in $ENV_FILE"
    log "using the existing Forgejo at $FORGEJO_URL"
  else
    require_kubeconfig
    log "Forgejo $FORGEJO_IMAGE in namespace forgejo (k8s/forgejo)"
    sed "s|image: FORGEJO_IMAGE|image: $FORGEJO_IMAGE|" "$KAIROS_ROOT/k8s/forgejo/forgejo.yaml" |
      apply_ssa kairos-forgejo -f -
    kubectl -n forgejo rollout status deploy/forgejo --timeout=600s
    log "Forgejo is up: kubectl -n forgejo port-forward svc/forgejo 3000, then create the admin with"
    log "  kubectl -n forgejo exec deploy/forgejo -- forgejo admin user create --admin --username <name> --email <mail> --random-password"
  fi
  log "next: register a runner with the label 'docker' and set the repository secrets (docs/OPERATIONS.md, CI/CD)"
}

step_status() {
  require_kubeconfig
  kubectl get nodes -o wide
  kubectl -n kafka get kafka,kafkanodepool,kafkatopic 2>/dev/null || true
  kubectl -n kairos get clusters.postgresql.cnpg.io,ksvc,pods 2>/dev/null || true
}

step_infra_down() {
  require_cmd terraform "Install Terraform >= ${TERRAFORM_MIN_VERSION}."
  load_env_file
  require_var HCLOUD_TOKEN "The API token of the Hetzner Cloud project."
  export TF_VAR_hcloud_token="$HCLOUD_TOKEN"
  if [[ "${FORCE:-0}" != "1" ]]; then
    [[ -t 0 ]] || die "infra-down destroys the servers, the data volume and the IP: rerun with FORCE=1 to confirm"
    read -r -p "Destroy every Kairos resource in the Hetzner project (data volume included)? Type 'destroy': " answer
    [[ "$answer" == "destroy" ]] || die "aborted"
  fi
  tf init -input=false -upgrade=false
  tf destroy -input=false -auto-approve -var "kubeconfig_path=$KUBECONFIG"
  rm -f "$KUBECONFIG" "$STATE_DIR/known_hosts"
}

main() {
  load_versions
  local steps=("$@")
  [[ ${#steps[@]} -gt 0 ]] || steps=(infra-up secrets platform-up build deploy)
  local s
  for s in "${steps[@]}"; do
    case "$s" in
      infra-up) step_infra_up ;;
      secrets) step_secrets ;;
      platform-up) step_platform_up ;;
      build) step_build ;;
      deploy) step_deploy ;;
      status) step_status ;;
      render) step_render ;;
      forgejo) step_forgejo ;;
      infra-down) step_infra_down ;;
      -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" && return 0 ;;
      *) die "unknown step '$s' (infra-up, secrets, platform-up, build, deploy, status, render, forgejo, infra-down)" ;;
    esac
  done
}

main "$@"
