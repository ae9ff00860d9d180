#!/usr/bin/env bash
# Start a throw-away Kubernetes control plane on 127.0.0.1:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and kwok
#   (fake kubelet for one Node), plus a k3s-like `local-path` StorageClass
#   backed by pre-created PersistentVolumes.
#
#   tools/cluster/up.sh                 # builds on first use (build.sh)
#   export KUBECONFIG=$STATE_DIR/kubeconfig   # path printed at the end
#   tools/cluster/down.sh               # stop everything
#
# State (certs, etcd data, logs, pids, kubeconfig) lives in $STATE_DIR and is
# recreated on every start: each run gets an empty cluster.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in openssl curl setsid; do
  command -v "$tool" >/dev/null || { log "$tool is required"; exit 1; }
done

# Refuse to start over a running cluster: its pids and data are in STATE_DIR.
if running; then
  log "a cluster seems to be running from $STATE_DIR; run tools/cluster/down.sh first"
  exit 1
fi

t0=$(date +%s.%N)
BIN="$("$CLUSTER_DIR/build.sh")"

# A port already in use would make the health checks below talk to someone
# else's server; fail clearly instead.
for port in "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$SCHEDULER_PORT" "$KWOK_SERVER_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "127.0.0.1:$port is already in use; set the *_PORT variables (see README.md)"
    exit 1
  fi
done
t1=$(date +%s.%N)

# Only ever delete a directory this script created (marker file), so a
# mistyped STATE_DIR cannot wipe anything else.
if [[ -e "$STATE_DIR" ]]; then
  if [[ -f "$STATE_DIR/.plane-test-cluster" ]]; then
    rm -rf "$STATE_DIR"
  elif [[ -n "$(ls -A "$STATE_DIR")" ]]; then
    log "$STATE_DIR exists and was not created by up.sh; choose another STATE_DIR"
    exit 1
  fi
fi
mkdir -p "$STATE_DIR"/{pki,logs,pids,etcd}
touch "$STATE_DIR/.plane-test-cluster"
chmod 700 "$STATE_DIR"

# On any failure: show the end of every log, then stop what was started.
on_exit() {
  local rc=$?
  if [[ $rc != 0 ]]; then
    log "startup failed (exit $rc); last lines of each log in $STATE_DIR/logs:"
    for f in "$STATE_DIR"/logs/*.log; do
      [[ -f "$f" ]] || continue
      echo "----- $f" >&2
      tail -n 20 "$f" >&2
    done
    "$CLUSTER_DIR/down.sh" >&2 || true
  fi
}
trap on_exit EXIT
PKI="$STATE_DIR/pki"

# --- certificates -----------------------------------------------------------
# A private CA signs the apiserver's serving certificate and one client
# certificate per component, so RBAC sees the same identities as on a real
# cluster (system:kube-controller-manager, system:kube-scheduler, ...).
# EC P-256 keys: generated in milliseconds, supported by every component.
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

newkey "$PKI/ca.key"
openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=plane-test-ca" -days 365 \
  -out "$PKI/ca.crt" 2>/dev/null

# sign NAME SUBJECT EXTENSIONS: key + certificate signed by the CA.
sign() {
  local name=$1 subj=$2 ext=$3
  newkey "$PKI/$name.key"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" 2>/dev/null |
    openssl x509 -req -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
      -days 365 -extfile <(printf '%s\n' "$ext") -out "$PKI/$name.crt" 2>/dev/null
}
client_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

sign apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:$SERVICE_APISERVER_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
sign admin "/O=system:masters/CN=admin" "$client_ext"
sign kube-controller-manager "/CN=system:kube-controller-manager" "$client_ext"
sign kube-scheduler "/CN=system:kube-scheduler" "$client_ext"
# kwok acts for the kubelet of a fake node (status, leases, pod deletion); the
# Node authorizer would need one identity per node, so it uses masters rights.
sign kwok "/O=system:masters/CN=kwok" "$client_ext"
# kwok also serves the node's kubelet API (logs, exec, port-forward); the
# apiserver reaches it with its own client certificate and checks it with the CA.
sign kwok-serving "/CN=$NODE_NAME" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:$NODE_NAME"
sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client_ext"

# ServiceAccount token signing pair: the apiserver verifies/issues tokens, the
# controller-manager signs legacy token Secrets with the private key.
newkey "$PKI/sa.key"
openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null

SERVER="https://127.0.0.1:$APISERVER_PORT"
# kubeconfig NAME: self-contained kubeconfig (certificates embedded) for NAME.
kubeconfig() {
  local name=$1 out=$2
  cat > "$out" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: plane-test
  cluster:
    server: $SERVER
    certificate-authority-data: $(base64 -w0 < "$PKI/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 < "$PKI/$name.crt")
    client-key-data: $(base64 -w0 < "$PKI/$name.key")
contexts:
- name: plane-test
  context: {cluster: plane-test, user: $name}
current-context: plane-test
EOF
  chmod 600 "$out"
}
KUBECONFIG_OUT="$STATE_DIR/kubeconfig"
kubeconfig admin "$KUBECONFIG_OUT"
for c in kube-controller-manager kube-scheduler kwok; do
  kubeconfig "$c" "$STATE_DIR/$c.kubeconfig"
done

# --- processes --------------------------------------------------------------
# run NAME ARGS...: start a component detached (own session, so it outlives
# this script and is not hit by signals sent to the caller's process group),
# output in logs/NAME.log, pid in pids/NAME.pid (written by the process itself,
# so it is the real component pid even if setsid has to fork).
run() {
  local name=$1; shift
  # shellcheck disable=SC2016  # $$ and $@ are for the inner bash
  setsid bash -c 'echo $$ > "$0"; exec "$@"' "$STATE_DIR/pids/$name.pid" "$@" \
    > "$STATE_DIR/logs/$name.log" 2>&1 < /dev/null &
}

# wait_for WHAT SECONDS CMD...: poll CMD until it succeeds; fail with a message.
# If WHAT is a component started by run(), fail at once when it has exited
# (a bad flag would otherwise cost the whole timeout).
wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs)) pidfile
  pidfile="$STATE_DIR/pids/$what.pid"
  until "$@" >/dev/null 2>&1; do
    if [[ -s "$pidfile" ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "$what exited during startup (see $STATE_DIR/logs/$what.log)"; return 1
    fi
    if ((SECONDS >= deadline)); then log "timed out after ${secs}s waiting for $what"; return 1; fi
    sleep 0.2
  done
}

ETCD_URL="http://127.0.0.1:$ETCD_CLIENT_PORT"
# Plain http on loopback: etcd is reachable only from this machine and holds
# throw-away data. --unsafe-no-fsync: durability is irrelevant for tests and
# fsync dominates latency on small VMs.
run etcd "$BIN/etcd" \
  --name=plane-test \
  --data-dir="$STATE_DIR/etcd" \
  --listen-client-urls="$ETCD_URL" --advertise-client-urls="$ETCD_URL" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="plane-test=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync
wait_for etcd 30 curl -fsS "$ETCD_URL/health"

# Admission: the defaults are always on; listed here are the ones the project
# relies on (PodSecurity for the `restricted` namespaces, ServiceAccount,
# DefaultStorageClass for claims without a class) plus NodeRestriction as k3s.
# --endpoint-reconciler-type=none: the `kubernetes` Service would need a
# non-loopback endpoint address, and nothing here routes to it anyway.
run kube-apiserver "$BIN/kube-apiserver" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
  --secure-port="$APISERVER_PORT" \
  --etcd-servers="$ETCD_URL" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" \
  --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,PodSecurity,DefaultStorageClass,DefaultTolerationSeconds,ResourceQuota,NodeRestriction \
  --allow-privileged=true \
  --endpoint-reconciler-type=none \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" \
  --kubelet-preferred-address-types=InternalIP \
  --profiling=false
# The kubectl built with the server (same release) does the bootstrap.
ADMIN=("$BIN/kubectl" --kubeconfig="$KUBECONFIG_OUT")
wait_for kube-apiserver 90 curl -fsS --cacert "$PKI/ca.crt" "$SERVER/readyz"

# Both controllers serve health/metrics on loopback only; no leader election:
# there is exactly one instance and it must not wait for an old lease.
run kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$STATE_DIR/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig="$STATE_DIR/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig="$STATE_DIR/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --cert-dir="$STATE_DIR/kcm-serving" \
  --controllers='*' \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" \
  --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --allocate-node-cidrs=true --cluster-cidr="$CLUSTER_CIDR" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --leader-elect=false

run kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig="$STATE_DIR/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig="$STATE_DIR/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig="$STATE_DIR/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
  --leader-elect=false

# kwok manages only Nodes carrying the fake annotation; node heartbeats go
# through Leases (as a real kubelet), so the node lifecycle controller keeps
# the Node Ready and never evicts its pods.
# KWOK_EXTRA_CONFIG: more kwok configuration files (comma-separated), e.g. the
# ClusterLogs / ClusterExec / ClusterPortForward a test wants behind its pods.
kwok_configs=("--config=$CLUSTER_DIR/stages.yaml")
IFS=, read -r -a extra_configs <<< "${KWOK_EXTRA_CONFIG:-}"
for f in "${extra_configs[@]}"; do kwok_configs+=("--config=$f"); done
run kwok "$BIN/kwok" \
  --kubeconfig="$STATE_DIR/kwok.kubeconfig" \
  "${kwok_configs[@]}" \
  --server-address="127.0.0.1:$KWOK_SERVER_PORT" \
  --tls-cert-file="$PKI/kwok-serving.crt" --tls-private-key-file="$PKI/kwok-serving.key" \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds=40 \
  --cidr=10.42.0.0/24

wait_for kube-controller-manager 60 curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz"
wait_for kube-scheduler 60 curl -fsSk "https://127.0.0.1:$SCHEDULER_PORT/healthz"

# --- cluster objects a k3s node would have ----------------------------------
# The Node is created with its capacity in status (a kubelet registers the same
# way); kwok then marks it Ready. Labels as k3s sets them on a server node.
# PersistentVolumes: k3s' local-path provisioner creates volumes on demand;
# here a pool of static `local` volumes on the node plays that role, so
# WaitForFirstConsumer claims are bound by the real scheduler + PV controller.
{
cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE_NAME
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $NODE_NAME
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    beta.kubernetes.io/os: linux
    beta.kubernetes.io/arch: amd64
    node-role.kubernetes.io/control-plane: "true"
    node-role.kubernetes.io/master: "true"
    node.kubernetes.io/instance-type: k3s
status:
  # Loopback as the node address: anything that follows it (the apiserver for
  # logs/exec) stays on this machine.
  addresses:
  - {type: InternalIP, address: 127.0.0.1}
  - {type: Hostname, address: $NODE_NAME}
  # The apiserver sends logs/exec/port-forward of this node's pods here (kwok).
  daemonEndpoints: {kubeletEndpoint: {Port: $KWOK_SERVER_PORT}}
  capacity: {cpu: "4", memory: 8Gi, pods: "110", ephemeral-storage: 50Gi}
  allocatable: {cpu: "4", memory: 8Gi, pods: "110", ephemeral-storage: 50Gi}
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    osImage: kwok fake node
    kernelVersion: kwok
    containerRuntimeVersion: kwok://fake
    kubeletVersion: $(mod_version "$CLUSTER_DIR/go.mod" k8s.io/kubernetes)
    kubeProxyVersion: ""
    machineID: ""
    systemUUID: ""
    bootID: ""
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-path
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
EOF
# Each pool class gets PV_COUNT volumes: local-path (k3s' own), and plane-retain (the stack's own
# class in dist/, same provisioner, reclaim Retain), named local-pv-N and plane-retain-pv-N.
for class in $PV_CLASSES; do
prefix=$([ "$class" = local-path ] && echo local || echo "$class")
for i in $(seq 1 "$PV_COUNT"); do
cat <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $prefix-pv-$i
spec:
  capacity: {storage: $PV_SIZE}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: $class
  volumeMode: Filesystem
  local: {path: /var/lib/rancher/k3s/storage/$prefix-pv-$i}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}
EOF
done
done
} > "$STATE_DIR/bootstrap.yaml"
"${ADMIN[@]}" create -f "$STATE_DIR/bootstrap.yaml" >/dev/null

# Ready node + the `default` ServiceAccount (created by the controller-manager)
# are what the first `kubectl apply` of a workload needs.
"${ADMIN[@]}" wait --for=condition=Ready "node/$NODE_NAME" --timeout=60s >/dev/null
wait_for "default ServiceAccount" 60 "${ADMIN[@]}" -n default get serviceaccount default

trap - EXIT
log "$(awk -v a="$t0" -v b="$t1" -v c="$(date +%s.%N)" \
  'BEGIN { printf "cluster up in %.1fs (build check %.1fs, start %.1fs)", c - a, b - a, c - b }')"
log "binaries: $BIN (kubectl there matches the server version)"
log "logs: $STATE_DIR/logs   stop: $CLUSTER_DIR/down.sh"
echo "export KUBECONFIG=$KUBECONFIG_OUT"
