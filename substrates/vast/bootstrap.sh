#!/usr/bin/env bash
# Turn a freshly rented Vast.ai VM (Ubuntu, NVIDIA driver preinstalled) into a one-node k3s cluster
# that serves GPUs the way the platform's manifests expect. Run as root; VastCluster pipes this file
# to `bash -s -- <mode>` over SSH.
#
#   bootstrap   (default) install/upgrade everything below; safe to run again (idempotent):
#               1. NVIDIA container toolkit, pinned (k3s finds `nvidia-container-runtime` at start and
#                  registers an `nvidia` containerd runtime next to runc), told to ignore NVIDIA_VISIBLE_DEVICES
#                  in unprivileged containers and to take the device list from volume mounts;
#               2. k3s, pinned, from /etc/rancher/k3s/config.yaml: Traefik off (the platform brings its
#                  own gateway), kubeconfig mode 600, the public IP in the API certificate. The embedded
#                  NetworkPolicy controller (kube-router) stays ON: the platform's SR1 relies on it;
#               3. RuntimeClass `nvidia` (k3s ships one; created only if missing);
#               4. NVIDIA device plugin + GPU Feature Discovery, pinned Helm chart via k3s' HelmChart
#                  auto-deploy folder, passing allocated GPUs as volume mounts (deviceListStrategy), with a
#                  time-slicing config when LLMP_TIME_SLICING_REPLICAS > 1;
#               5. Gateway API CRDs (standard channel, pinned), which GKE installs as a managed feature
#                  and the serving layer expects to exist;
#               6. waits until the node advertises GPUs x replicas and GFD's product label.
#   kubeconfig  print k3s' admin kubeconfig with the server rewritten to the VM's public address
#               (Vast maps the API port 6443 to a random public port: VAST_TCP_PORT_6443).
#
# Inputs (environment): LLMP_PUBLIC_IP, LLMP_EXPECTED_GPUS, LLMP_TIME_SLICING_REPLICAS,
# LLMP_K3S_VERSION, LLMP_CTK_VERSION, LLMP_DEVICE_PLUGIN_VERSION, LLMP_GATEWAY_API_VERSION. Test hooks: LLMP_ROOT (prefix for
# every path written or read), LLMP_WAIT_SECONDS, LLMP_POLL_SECONDS.
set -euo pipefail

ROOT="${LLMP_ROOT:-}"
K3S_CONFIG="$ROOT/etc/rancher/k3s/config.yaml"
K3S_KUBECONFIG="$ROOT/etc/rancher/k3s/k3s.yaml"
K3S_MANIFESTS="$ROOT/var/lib/rancher/k3s/server/manifests"
CONTAINERD_CONFIG="$ROOT/var/lib/rancher/k3s/agent/etc/containerd/config.toml"
VM_ENVIRONMENT="$ROOT/etc/environment"
APT_KEYRING="$ROOT/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
APT_SOURCE="$ROOT/etc/apt/sources.list.d/nvidia-container-toolkit.list"
CTK_CONFIG="$ROOT/etc/nvidia-container-runtime/config.toml"
WAIT_SECONDS="${LLMP_WAIT_SECONDS:-900}"
POLL_SECONDS="${LLMP_POLL_SECONDS:-5}"
API_PORT=6443

log() { printf '[llmp-bootstrap] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

require_env() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || die "$name is not set (VastCluster passes it; see substrates/vast/cluster.py)"
  done
}

# Replace $1 with stdin only when the content differs; exit status 0 = changed, 1 = unchanged.
write_if_changed() {
  local target="$1" tmp
  tmp="$(mktemp)"
  cat >"$tmp"
  if [[ -f "$target" ]] && cmp -s "$tmp" "$target"; then
    rm -f "$tmp"
    return 1
  fi
  mkdir -p "$(dirname "$target")"
  install -m "${2:-0644}" "$tmp" "$target"
  rm -f "$tmp"
  return 0
}

wait_for() {
  local what="$1"
  shift
  local waited=0
  until "$@"; do
    ((waited < WAIT_SECONDS)) || die "timed out after ${WAIT_SECONDS}s waiting for $what"
    sleep "$POLL_SECONDS"
    waited=$((waited + POLL_SECONDS))
  done
}

kubectl() { k3s kubectl --kubeconfig "$K3S_KUBECONFIG" "$@"; }

check_gpus() {
  command -v nvidia-smi >/dev/null || die "nvidia-smi not found: the VM image must ship the NVIDIA driver"
  local found
  found="$(nvidia-smi --query-gpu=name --format=csv,noheader | grep -c . || true)"
  [[ "$found" == "$LLMP_EXPECTED_GPUS" ]] ||
    die "the VM shows $found GPU(s), the stack rented $LLMP_EXPECTED_GPUS; destroy and rent again"
  log "driver sees $found GPU(s): $(nvidia-smi --query-gpu=name --format=csv,noheader | sort -u | paste -sd, -)"
}

install_container_toolkit() {
  if command -v nvidia-ctk >/dev/null && nvidia-ctk --version 2>/dev/null | grep -q "version ${LLMP_CTK_VERSION%%-*}"; then
    log "NVIDIA container toolkit ${LLMP_CTK_VERSION} already installed"
    return
  fi
  log "installing NVIDIA container toolkit ${LLMP_CTK_VERSION}"
  mkdir -p "$(dirname "$APT_KEYRING")" "$(dirname "$APT_SOURCE")"
  curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey | gpg --dearmor --yes -o "$APT_KEYRING"
  # shellcheck disable=SC2016 # `$(ARCH)` is apt's placeholder, not a shell expansion
  printf 'deb [signed-by=%s] https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /\n' \
    "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg" | write_if_changed "$APT_SOURCE" || true
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --allow-downgrades \
    "nvidia-container-toolkit=${LLMP_CTK_VERSION}" "nvidia-container-toolkit-base=${LLMP_CTK_VERSION}" \
    "libnvidia-container-tools=${LLMP_CTK_VERSION}" "libnvidia-container1=${LLMP_CTK_VERSION}"
}

k3s_config() {
  # Never add `disable-network-policy` here: without kube-router NetworkPolicies are paper controls.
  cat <<EOF
# Written by llm-platform's bootstrap.sh; edits are overwritten on the next run.
write-kubeconfig-mode: "0600"
disable:
  - traefik
tls-san:
  - "${LLMP_PUBLIC_IP}"
EOF
}

configure_toolkit() {
  # The NVIDIA runtime honours NVIDIA_VISIBLE_DEVICES for every container by default, so an unprivileged pod with
  # `runtimeClassName: nvidia` and NVIDIA_VISIBLE_DEVICES=all (CUDA base images set it) would see every GPU
  # without requesting one. Only privileged containers (and the device plugin, which the chart gives
  # CAP_SYS_ADMIN for volume-mounts) keep the variable; everyone else gets exactly the devices the device plugin
  # allocated, passed as volume mounts under /var/run/nvidia-container-devices (deviceListStrategy below).
  # The runtime reads its config at every container start: no restart needed.
  nvidia-ctk config --config-file="$CTK_CONFIG" --in-place \
    --set accept-nvidia-visible-devices-envvar-when-unprivileged=false \
    --set accept-nvidia-visible-devices-as-volume-mounts=true
  log "NVIDIA runtime: device list from volume mounts only (NVIDIA_VISIBLE_DEVICES ignored for unprivileged pods)"
}

install_k3s() {
  local config_changed=0
  k3s_config | write_if_changed "$K3S_CONFIG" 0600 && config_changed=1
  if command -v k3s >/dev/null && k3s --version 2>/dev/null | grep -qF "k3s version ${LLMP_K3S_VERSION} "; then
    if ((config_changed)); then
      log "k3s ${LLMP_K3S_VERSION} installed; config changed, restarting"
      systemctl restart k3s
    else
      log "k3s ${LLMP_K3S_VERSION} already installed and configured"
    fi
  else
    log "installing k3s ${LLMP_K3S_VERSION}"
    # The installer reads /etc/rancher/k3s/config.yaml; no flags here, so config is the one source.
    curl -sfL https://get.k3s.io | INSTALL_K3S_VERSION="${LLMP_K3S_VERSION}" sh -s - server
  fi
  wait_for "the k3s API" kubectl get --raw=/readyz
  # k3s registers the nvidia runtime only if the toolkit was present when it started.
  if ! grep -q nvidia-container-runtime "$CONTAINERD_CONFIG" 2>/dev/null; then
    log "containerd has no nvidia runtime yet; restarting k3s so it detects the toolkit"
    systemctl restart k3s
    wait_for "the k3s API" kubectl get --raw=/readyz
    grep -q nvidia-container-runtime "$CONTAINERD_CONFIG" ||
      die "k3s did not register the nvidia runtime; is nvidia-container-runtime on PATH?"
  fi
  wait_for "the node to be Ready" node_ready
}

node_ready() {
  kubectl get nodes -o jsonpath='{.items[*].status.conditions[?(@.type=="Ready")].status}' 2>/dev/null |
    grep -q True
}

ensure_runtime_class() {
  if kubectl get runtimeclass nvidia >/dev/null 2>&1; then
    log "RuntimeClass nvidia present"
    return
  fi
  log "creating RuntimeClass nvidia"
  kubectl apply -f - <<'EOF'
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: nvidia
handler: nvidia
EOF
}

device_plugin_manifest() {
  cat <<EOF
# Written by llm-platform's bootstrap.sh; k3s' helm-controller installs it.
apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata:
  name: nvidia-device-plugin
  namespace: kube-system
spec:
  repo: https://nvidia.github.io/k8s-device-plugin
  chart: nvidia-device-plugin
  version: "${LLMP_DEVICE_PLUGIN_VERSION}"
  targetNamespace: nvidia-device-plugin
  createNamespace: true
  valuesContent: |-
    runtimeClassName: nvidia
    # Allocated GPUs reach containers as volume mounts, which the toolkit is told to accept (configure_toolkit);
    # the environment-variable path is off for unprivileged pods.
    deviceListStrategy: volume-mounts
    gfd:
      enabled: true
EOF
  if ((LLMP_TIME_SLICING_REPLICAS > 1)); then
    # failRequestsGreaterThanOne: a pod asking for 2 slices could get two of the same GPU; refuse it.
    cat <<EOF
    config:
      default: llmp
      map:
        llmp: |-
          version: v1
          sharing:
            timeSlicing:
              failRequestsGreaterThanOne: true
              resources:
                - name: nvidia.com/gpu
                  replicas: ${LLMP_TIME_SLICING_REPLICAS}
EOF
  fi
}

install_device_plugin() {
  if device_plugin_manifest | write_if_changed "$K3S_MANIFESTS/llmp-nvidia-device-plugin.yaml"; then
    log "device plugin chart ${LLMP_DEVICE_PLUGIN_VERSION} written (time-slicing replicas: ${LLMP_TIME_SLICING_REPLICAS})"
  fi
  local want=$((LLMP_EXPECTED_GPUS * LLMP_TIME_SLICING_REPLICAS))
  wait_for "${want} allocatable nvidia.com/gpu" gpus_allocatable "$want"
  wait_for "GPU Feature Discovery's product label" product_labelled
  log "node advertises ${want} nvidia.com/gpu, product $(product_label)"
}

gpus_allocatable() {
  [[ "$(kubectl get nodes -o jsonpath='{.items[0].status.allocatable.nvidia\.com/gpu}' 2>/dev/null)" == "$1" ]]
}

product_label() {
  kubectl get nodes -o jsonpath='{.items[0].metadata.labels.nvidia\.com/gpu\.product}' 2>/dev/null
}

product_labelled() {
  local value
  value="$(product_label)"
  [[ -n "$value" ]] || return 1
  if ((LLMP_TIME_SLICING_REPLICAS > 1)); then [[ "$value" == *-SHARED ]]; else [[ "$value" != *-SHARED ]]; fi
}

install_gateway_api_crds() {
  local url="https://github.com/kubernetes-sigs/gateway-api/releases/download/${LLMP_GATEWAY_API_VERSION}/standard-install.yaml"
  local target="$K3S_MANIFESTS/llmp-gateway-api-crds.yaml" tmp
  if [[ -f "$target" ]] && grep -qF "bundle-version: ${LLMP_GATEWAY_API_VERSION}" "$target"; then
    log "Gateway API ${LLMP_GATEWAY_API_VERSION} CRDs already in place"
  else
    log "installing Gateway API ${LLMP_GATEWAY_API_VERSION} CRDs (standard channel)"
    tmp="$(mktemp)"
    curl -fsSL "$url" -o "$tmp"
    grep -qF "bundle-version: ${LLMP_GATEWAY_API_VERSION}" "$tmp" || die "$url is not the ${LLMP_GATEWAY_API_VERSION} bundle"
    write_if_changed "$target" <"$tmp" || true
    rm -f "$tmp"
  fi
  wait_for "the Gateway API CRDs" kubectl get crd gateways.gateway.networking.k8s.io httproutes.gateway.networking.k8s.io
}

public_api_port() {
  local port=""
  if [[ -f "$VM_ENVIRONMENT" ]]; then
    port="$(sed -n "s/^VAST_TCP_PORT_${API_PORT}=[\"']\{0,1\}\([0-9]*\)[\"']\{0,1\}\$/\1/p" "$VM_ENVIRONMENT" | tail -n 1)"
  fi
  printf '%s' "${port:-$API_PORT}"
}

print_kubeconfig() {
  require_env LLMP_PUBLIC_IP
  [[ -s "$K3S_KUBECONFIG" ]] || die "$K3S_KUBECONFIG is missing: run the bootstrap first"
  sed "s#server: https://127.0.0.1:${API_PORT}#server: https://${LLMP_PUBLIC_IP}:$(public_api_port)#" "$K3S_KUBECONFIG"
}

main() {
  case "${1:-bootstrap}" in
    bootstrap)
      require_env LLMP_PUBLIC_IP LLMP_EXPECTED_GPUS LLMP_TIME_SLICING_REPLICAS LLMP_K3S_VERSION \
        LLMP_CTK_VERSION LLMP_DEVICE_PLUGIN_VERSION LLMP_GATEWAY_API_VERSION
      [[ -n "$ROOT" || "$(id -u)" == 0 ]] || die "run as root"
      check_gpus
      install_container_toolkit
      configure_toolkit
      install_k3s
      ensure_runtime_class
      install_gateway_api_crds
      install_device_plugin
      log "done"
      ;;
    kubeconfig) print_kubeconfig ;;
    *) die "unknown mode '$1' (bootstrap | kubeconfig)" ;;
  esac
}

main "$@"
