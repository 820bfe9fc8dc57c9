#!/usr/bin/env bash
# Starts a throw-away Kubernetes control plane on 127.0.0.1 for tests:
# etcd + kube-apiserver v1.20.2 (+ kube-controller-manager, for garbage collection and
# namespace deletion), on free ports, with all state under <state-dir>.
#
# Usage: start.sh [--without-controller-manager] [--timeout SECONDS] <state-dir>
#
# Writes <state-dir>/kubeconfig (admin, static token in group system:masters), one pid file
# per process (<state-dir>/*.pid), logs in <state-dir>/logs/, and <state-dir>/cluster.env.
# Prints only the kubeconfig path on stdout once /readyz is ok and the `default` namespace
# exists. Stop it with stop.sh <state-dir>.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KUBE_VERSION=1.20.2
KUBE_CACHE_DIR="${KUBE_CACHE_DIR:-$HOME/.cache/swr-sync-operator/kube-$KUBE_VERSION}"
BIN_DIR="$KUBE_CACHE_DIR/bin"

log() { echo "[kube-start] $*" >&2; }
usage() { echo "usage: $0 [--without-controller-manager] [--timeout SECONDS] <state-dir>" >&2; exit 2; }

WITH_CM=1
TIMEOUT="${KUBE_START_TIMEOUT:-60}"
STATE=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --with-controller-manager) WITH_CM=1 ;;
    --without-controller-manager | --no-controller-manager) WITH_CM=0 ;;
    --timeout) [[ $# -ge 2 ]] || usage; TIMEOUT="$2"; shift ;;
    --timeout=*) TIMEOUT="${1#*=}" ;;
    -h | --help) usage ;;
    -*) echo "unknown option: $1" >&2; usage ;;
    *) [[ -z $STATE ]] || usage; STATE="$1" ;;
  esac
  shift
done
[[ -n $STATE ]] || usage

t0=$EPOCHREALTIME

"$HERE/install.sh" >/dev/null

mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"

# Refuse a directory in which a cluster is still running.
for pidfile in "$STATE"/*.pid; do
  [[ -e $pidfile ]] || continue
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
      && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE 'etcd|kube-'; then
    log "error: $STATE has a running cluster (pid $pid from $(basename "$pidfile")); run stop.sh $STATE first"
    exit 1
  fi
  rm -f "$pidfile"
done
# Leftovers of a stopped cluster in the same directory are ours to replace.
rm -rf "$STATE/etcd" "$STATE/pki" "$STATE/logs" "$STATE/kubeconfig" \
  "$STATE/controller-manager.kubeconfig" "$STATE/cluster.env"
mkdir -p "$STATE/pki" "$STATE/logs"
chmod 700 "$STATE/pki"

# --- credentials -------------------------------------------------------------------------
PKI="$STATE/pki"
(
  cd "$PKI"
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
  openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=swr-sync-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.crt 2>/dev/null
  # A separate leaf: rustls rejects a CA certificate used as the server's own (CaUsedAsEndEntity).
  openssl ecparam -name prime256v1 -genkey -noout -out server.key 2>/dev/null
  openssl req -new -key server.key -subj "/CN=kube-apiserver" -out server.csr 2>/dev/null
  cat >server.ext <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
EOF
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
    -days 3650 -extfile server.ext -out server.crt 2>/dev/null
  # Service-account token signing key pair (the three flags are mandatory since 1.20).
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
)
TOKEN=$(openssl rand -hex 32)
echo "$TOKEN,admin,admin,\"system:masters\"" >"$PKI/tokens.csv"
chmod 600 "$PKI"/*

# --- ports -------------------------------------------------------------------------------
# Ports the kernel hands out for port 0; a collision with another process that grabs one
# before we bind it is detected below and retried with fresh ports.
free_ports() {
  local n=$1
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$n" <<'EOF' && return
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
  fi
  # Fallback: random ports that nobody listens on now.
  local used ports=() p
  used=$(ss -Htln 2>/dev/null | awk '{n=split($4,a,":"); print a[n]}' || true)
  while [[ ${#ports[@]} -lt $n ]]; do
    p=$((20000 + RANDOM % 30000))
    grep -qx "$p" <<<"$used" && continue
    [[ " ${ports[*]} " == *" $p "* ]] && continue
    ports+=("$p")
  done
  echo "${ports[*]}"
}

# --- processes ---------------------------------------------------------------------------
# Each daemon runs in a session of its own, with no inherited stdio (a caller capturing our
# output must not wait for the daemons), and its pid in <name>.pid.
launch() {
  local name=$1
  shift
  setsid "$@" </dev/null >>"$STATE/logs/$name.log" 2>&1 &
  echo $! >"$STATE/$name.pid"
}

alive() { kill -0 "$(cat "$STATE/$1.pid" 2>/dev/null || echo 0)" 2>/dev/null; }

show_logs() {
  local f
  for f in "$STATE"/logs/*.log; do
    [[ -e $f ]] || continue
    echo "----- tail of $f -----" >&2
    tail -n 40 "$f" >&2
  done
}

fail() {
  log "error: $*"
  show_logs
  "$HERE/stop.sh" "$STATE" >/dev/null 2>&1 || true
  exit 1
}

port_collision() { grep -qsi "address already in use" "$STATE/logs/$1.log"; }

deadline=$((SECONDS + TIMEOUT))

start_etcd() {
  launch etcd etcd \
    --name default \
    --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync \
    --logger zap --log-outputs stderr
  while ! curl -fsS --max-time 1 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; do
    if ! alive etcd; then
      port_collision etcd && return 2
      fail "etcd exited"
    fi
    [[ $SECONDS -lt $deadline ]] || fail "etcd not healthy within ${TIMEOUT}s"
    sleep 0.1
  done
}

start_apiserver() {
  launch kube-apiserver "$BIN_DIR/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 \
    --advertise-address 127.0.0.1 \
    --secure-port "$API_PORT" \
    --insecure-port 0 \
    --cert-dir "$PKI" \
    --tls-cert-file "$PKI/server.crt" \
    --tls-private-key-file "$PKI/server.key" \
    --token-auth-file "$PKI/tokens.csv" \
    --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$PKI/sa.pub" \
    --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --disable-admission-plugins ServiceAccount \
    --endpoint-reconciler-type none \
    --allow-privileged=true \
    --profiling=false \
    --v 1
  local curl_auth=(--cacert "$PKI/ca.crt" -H "Authorization: Bearer $TOKEN" --max-time 2 -fsS)
  local url="https://127.0.0.1:$API_PORT"
  until [[ $(curl "${curl_auth[@]}" "$url/readyz" 2>/dev/null) == ok ]] \
      && curl "${curl_auth[@]}" -o /dev/null "$url/api/v1/namespaces/default" 2>/dev/null; do
    if ! alive kube-apiserver; then
      port_collision kube-apiserver && return 2
      fail "kube-apiserver exited"
    fi
    [[ $SECONDS -lt $deadline ]] || fail "kube-apiserver not ready within ${TIMEOUT}s"
    sleep 0.2
  done
}

kill_started() {
  local n pid
  for n in kube-apiserver etcd; do
    pid=$(cat "$STATE/$n.pid" 2>/dev/null || true)
    if [[ -n $pid ]]; then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/$n.pid"
  done
}

for attempt in 1 2 3 4 5; do
  read -r ETCD_PORT ETCD_PEER_PORT API_PORT <<<"$(free_ports 3)"
  rc=0
  start_etcd || rc=$?
  if [[ $rc -eq 0 ]]; then
    start_apiserver || rc=$?
  fi
  [[ $rc -eq 0 ]] && break
  log "port collision (attempt $attempt), retrying with other ports"
  kill_started
  rm -rf "$STATE/etcd"
  for f in "$STATE"/logs/*.log; do [[ -e $f ]] && mv "$f" "$f.attempt$attempt"; done
  [[ $attempt -lt 5 ]] || fail "no free ports after $attempt attempts"
done

SERVER="https://127.0.0.1:$API_PORT"
CA_DATA=$(base64 -w0 <"$PKI/ca.crt")
write_kubeconfig() {
  local user=$1 file=$2
  (umask 077 && : >"$file.tmp")
  cat >"$file.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: swr-test
  cluster:
    server: $SERVER
    certificate-authority-data: $CA_DATA
users:
- name: $user
  user:
    token: $TOKEN
contexts:
- name: swr-test
  context:
    cluster: swr-test
    user: $user
    namespace: default
current-context: swr-test
EOF
  mv "$file.tmp" "$file"
}

if [[ $WITH_CM -eq 1 ]]; then
  write_kubeconfig admin "$STATE/controller-manager.kubeconfig"
  launch kube-controller-manager "$BIN_DIR/kube-controller-manager" \
    --kubeconfig "$STATE/controller-manager.kubeconfig" \
    --use-service-account-credentials=false \
    --leader-elect=false \
    --controllers '*' \
    --secure-port 0 \
    --port 0 \
    --service-account-private-key-file "$PKI/sa.key" \
    --root-ca-file "$PKI/ca.crt" \
    --flex-volume-plugin-dir "$STATE/flexvolume" \
    --cluster-cidr 10.1.0.0/16 \
    --service-cluster-ip-range 10.0.0.0/24 \
    --profiling=false \
    --v 1
  sleep 0.3
  alive kube-controller-manager || fail "kube-controller-manager exited"
fi

cat >"$STATE/cluster.env" <<EOF
KUBECONFIG=$STATE/kubeconfig
KUBE_APISERVER_URL=$SERVER
KUBE_TOKEN=$TOKEN
KUBE_CA_FILE=$PKI/ca.crt
ETCD_URL=http://127.0.0.1:$ETCD_PORT
EOF
chmod 600 "$STATE/cluster.env"
write_kubeconfig admin "$STATE/kubeconfig"

log "ready at $SERVER in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s (state in $STATE)"
echo "$STATE/kubeconfig"
