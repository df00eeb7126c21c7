#!/usr/bin/env bash
# scripts/demo.sh [BUILD] — what `make demo` runs: an etcd cluster scaled
# 1 → 3 → 1 by the operator, on the test bed, watched through the plugin.
#
# Everything happens on this machine: the test bed (test/kubesim) is a small
# Kubernetes (API server, StatefulSet controller, kubelet running real etcd
# processes, DNS); the admission webhook and the controller run as plain
# processes inside its network, just as their Pods would. Everything the
# script starts is stopped when it ends, whether it worked or not.
#
# BUILD (default $EO_BUILD, else build/) holds kubectl-etcd, etcd-webhook,
# etcd-controller and etcd-certs. Exit status 0 only if every step worked.
# DEMO_KEEP=1 keeps the bed's directory (logs) afterwards.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-${EO_BUILD:-build}}
cd "$ROOT" || exit 2
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "demo: build directory ${1:-${EO_BUILD:-build}} not found; run make first" >&2; exit 2; }
BED="python3 $ROOT/test/kubesim/bed.py"
T0=$SECONDS

bold=""; dim=""; off=""; green=""; red=""
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	bold=$'\033[1m'; dim=$'\033[2m'; off=$'\033[0m'; green=$'\033[32m'; red=$'\033[31m'
fi
n=0
step() { n=$((n + 1)); printf '\n%s==> %d. %s%s\n' "$bold" "$n" "$1" "$off"; [ $# -gt 1 ] && printf '%s    %s%s\n' "$dim" "$2" "$off"; return 0; }
run() { printf '%s$ %s%s\n' "$dim" "$*" "$off"; "$@"; }
die() { printf '\n%sdemo failed: %s%s\n' "$red" "$1" "$off" >&2; exit 1; }

for b in kubectl-etcd etcd-webhook etcd-controller etcd-certs; do
	[ -x "$BUILD/$b" ] || die "$BUILD/$b is missing: build first (make)"
done
for t in kubectl etcd etcdctl python3 curl unshare; do
	command -v "$t" >/dev/null 2>&1 || die "$t is not installed: run scripts/install-deps.sh"
done

DIR=$(mktemp -d /tmp/etcd-demo.XXXXXX)
PGIDS=()
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	printf '\n%s==> Stopping everything the demo started%s\n' "$bold" "$off"
	for pg in "${PGIDS[@]}"; do
		kill -TERM -- "-$pg" 2>/dev/null
	done
	for pg in "${PGIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- "-$pg" 2>/dev/null || break; sleep 0.3; done
		kill -KILL -- "-$pg" 2>/dev/null
	done
	$BED stop --dir "$DIR" >/dev/null 2>&1
	if [ "${DEMO_KEEP:-}" = 1 ] || [ $rc -ne 0 ]; then
		echo "    logs kept in $DIR/logs"
		[ $rc -ne 0 ] && [ -f "$DIR/logs/controller.log" ] && { echo "    controller log (tail):"; tail -15 "$DIR/logs/controller.log" | sed 's/^/      /'; }
	else
		rm -rf "$DIR"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A background process in its own process group (so its children go with it).
start_bg() { # name cmd...
	local name=$1; shift
	setsid "$@" >"$DIR/logs/$name.log" 2>&1 </dev/null &
	PGIDS+=("$!")
}

step "Start the test bed" \
	"A Kubernetes API server, StatefulSet controller, kubelet and DNS in one local process; the CRD comes from manifests/crd."
run $BED start --dir "$DIR" --build "$BUILD" --manifests manifests --die-with-parent $$ || die "the test bed did not start (see $DIR/logs/bed.log)"
export KUBECONFIG=$DIR/kubeconfig
export PATH=$BUILD:$PATH # so `kubectl etcd` finds kubectl-etcd, as after make install
run kubectl get crd etcdclusters.etcd.k8s-operator.io || die "the CRD is not served"

step "Install the admission webhook" \
	"etcd-certs makes its CA and serving certificate and puts the CA into the webhook configurations."
run kubectl apply -f manifests/namespace/namespace.yaml || die "namespace"
run etcd-certs all --out "$DIR/certs" --ip 127.0.0.1 \
	-f manifests/webhook/mutating-webhook.yaml -f manifests/webhook/validating-webhook.yaml >/dev/null || die "etcd-certs"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_bg webhook $BED run --dir "$DIR" -- "$BUILD/etcd-webhook" --tls-cert-file "$DIR/certs/tls.crt" \
	--tls-private-key-file "$DIR/certs/tls.key" --secure-port "$PORT" --bind-address 127.0.0.1
for _ in $(seq 1 100); do
	curl -sf --cacert "$DIR/certs/ca.crt" "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -sf --cacert "$DIR/certs/ca.crt" "https://127.0.0.1:$PORT/healthz" >/dev/null || die "the webhook does not answer (see $DIR/logs/webhook.log)"
$BED services --dir "$DIR" --namespace etcd-operator-system --name etcd-webhook --target "127.0.0.1:$PORT" >/dev/null || die "service map"
run kubectl apply -f "$DIR/certs/webhooks.yaml" || die "webhook configurations"

step "Start the controller" \
	"It watches EtcdClusters and is the only one that changes etcd membership and the StatefulSet."
start_bg controller $BED run --dir "$DIR" -- "$BUILD/etcd-controller" --kubeconfig "$DIR/kubeconfig" \
	--etcd-heartbeat-ms 50 --etcd-election-ms 500 --step-timeout 90s
echo "    etcd-controller running (log: $DIR/logs/controller.log)"

step "Create the EtcdCluster 'demo' with one member" "manifests/samples/etcdcluster-demo.yaml"
created=0
for _ in $(seq 1 50); do # the webhook may need a moment after its configuration is applied
	kubectl apply -f manifests/samples/etcdcluster-demo.yaml 2>"$DIR/apply.err" && { created=1; break; }
	sleep 0.2
done
[ $created = 1 ] || die "kubectl apply: $(cat "$DIR/apply.err")"
printf 'waiting for demo to be Running'
ok=0
for _ in $(seq 1 180); do
	if [ "$(kubectl get etcdcluster demo -o 'jsonpath={.status.phase}/{.status.readyReplicas}' 2>/dev/null)" = "Running/1" ]; then ok=1; break; fi
	printf '.'; sleep 0.5
done
echo
[ $ok = 1 ] || { kubectl etcd status demo; die "demo did not become Running"; }
run kubectl etcd status demo --no-color | sed '/^$/q'

step "Scale to three members" \
	"The plugin shows the plan, writes the first step, and follows each learner until it is a healthy voter."
run kubectl etcd scale demo --replicas 3 --yes --step-timeout 2m --timeout 5m || die "scale 1 → 3"

step "Write and read a key through etcd" "etcdctl inside the cluster network, through the client Service."
EP=http://demo-client.default.svc.cluster.local:2379
run $BED run --dir "$DIR" -- etcdctl --endpoints "$EP" put greeting "hello from make demo" || die "etcdctl put"
out=$($BED run --dir "$DIR" -- etcdctl --endpoints "$EP" get greeting --print-value-only) || die "etcdctl get"
echo "$ etcdctl get greeting → $out"
[ "$out" = "hello from make demo" ] || die "read back \"$out\""
run $BED run --dir "$DIR" -- etcdctl --endpoints "$EP" member list -w table || die "etcdctl member list"

step "Status of the three-member cluster"
run kubectl etcd status demo --no-color || die "status"

step "Scale back to one member" \
	"Each step moves leadership away from the leaving member if needed, removes it, then deletes its volume."
run kubectl etcd scale demo --replicas 1 --yes --step-timeout 2m --timeout 5m || die "scale 3 → 1"
out=$($BED run --dir "$DIR" -- etcdctl --endpoints "$EP" get greeting --print-value-only) || die "etcdctl get after scale-down"
echo "$ etcdctl get greeting → $out"
[ "$out" = "hello from make demo" ] || die "the key did not survive the scale-down (read \"$out\")"

step "Status after the scale-down"
run kubectl etcd status demo --no-color || die "status"

printf '\n%sDemo finished in %ds: 1 → 3 → 1 members, one at a time, and the key survived.%s\n' "$green" "$((SECONDS - T0))" "$off"
