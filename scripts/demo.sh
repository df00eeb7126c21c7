#!/usr/bin/env bash
# scripts/demo.sh [BUILD] — what `make demo` runs: an etcd cluster scaled
# 1 → 3 → 1 by the operator, on the test bed, watched through the plugin.
#
# Everything happens on this machine, on real Kubernetes: the test bed
# (test/kbed) runs kube-apiserver, kube-controller-manager and kube-scheduler
# built from their Go modules, and a node agent that runs the Pods (real etcd
# 3.6) as processes in network namespaces of its own. The operator is
# installed exactly as the README's install section says: the webhook and the
# controller run as the Deployments in manifests/, under their own
# ServiceAccounts with RBAC enforced. Everything the script starts is stopped
# when it ends, whether it worked or not.
#
# BUILD (default $EO_BUILD, else build/) holds kubectl-etcd, etcd-webhook,
# etcd-controller and etcd-certs. Exit status 0 only if every step worked.
# DEMO_KEEP=1 keeps the bed's directory (logs) afterwards.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-${EO_BUILD:-build}}
cd "$ROOT" || exit 2
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "demo: build directory ${1:-${EO_BUILD:-build}} not found; run make first" >&2; exit 2; }
BED="$ROOT/scripts/bed"
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
for t in python3 unshare nsenter ip; do
	command -v "$t" >/dev/null 2>&1 || die "$t is not installed: run scripts/install-deps.sh"
done
ETCD36=$(scripts/kube-bins.sh --print 2>/dev/null | awk -F= '$1=="etcd" && $2 ~ /etcd-3[.]6[.]/ {print $2}' | tail -1)
[ -x "$ETCD36/etcdctl" ] || die "etcd 3.6 is not built: run scripts/kube-bins.sh"
ETCDCTL=$ETCD36/etcdctl
KUBECTL_DIR=$(scripts/kube-bins.sh --print 2>/dev/null | awk -F= '$1=="kubectl" {print $2}')
[ -x "$KUBECTL_DIR/kubectl" ] || die "kubectl 1.37 is not built: run scripts/kube-bins.sh"
export PATH=$KUBECTL_DIR:$PATH   # kubectl at the control plane's release

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
		if [ $rc -ne 0 ]; then
			for f in "$DIR"/logs/pods/etcd-operator-system_etcd-controller-*.log; do
				[ -f "$f" ] && { echo "    $(basename "$f") (tail):"; tail -15 "$f" | sed 's/^/      /'; }
			done
		fi
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
	"kube-apiserver (RBAC on, etcd 3.6 as its store), kube-controller-manager, kube-scheduler and three nodes; the CRD comes from manifests/crd."
run $BED start --dir "$DIR" --build "$BUILD" --manifests manifests --die-with-parent $$ || die "the test bed did not start (see $DIR/logs/bed.log)"
export KUBECONFIG=$DIR/kubeconfig
export PATH=$BUILD:$PATH # so `kubectl etcd` finds kubectl-etcd, as after make install
run kubectl get nodes || die "no nodes"

step "Install the operator as the README says" \
	"etcd-certs makes the webhook's CA and serving pair; the webhook and the controller run as Deployments."
run etcd-certs all --out "$DIR/certs" >/dev/null || die "etcd-certs"
run kubectl apply -f manifests/namespace/namespace.yaml -f "$DIR/certs/secret.yaml" || die "namespace and Secret"
printf '%s$ kubectl kustomize manifests/ | etcd-certs inject --ca %s -f - | kubectl apply -f -%s\n' "$dim" "$DIR/certs/ca.crt" "$off"
kubectl kustomize manifests/ | etcd-certs inject --ca "$DIR/certs/ca.crt" -f - | kubectl apply -f - >"$DIR/install.out" 2>&1 \
	|| { cat "$DIR/install.out"; die "install"; }
for d in etcd-webhook etcd-controller; do
	run kubectl -n etcd-operator-system rollout status deployment/$d --timeout 180s || {
		kubectl -n etcd-operator-system get pods -o wide; die "deployment $d did not become available"; }
done

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

step "Write and read a key through etcd" "etcdctl 3.6 inside the cluster network, through the client Service."
EP=http://demo-client.default.svc.cluster.local:2379
run $BED run --dir "$DIR" -- "$ETCDCTL" --endpoints "$EP" put greeting "hello from make demo" || die "etcdctl put"
out=$($BED run --dir "$DIR" -- "$ETCDCTL" --endpoints "$EP" get greeting --print-value-only) || die "etcdctl get"
echo "$ etcdctl get greeting → $out"
[ "$out" = "hello from make demo" ] || die "read back \"$out\""
run $BED run --dir "$DIR" -- "$ETCDCTL" --endpoints "$EP" member list -w table || die "etcdctl member list"

step "Status of the three-member cluster"
run kubectl etcd status demo --no-color || die "status"

step "Scale back to one member" \
	"Each step moves leadership away from the leaving member if needed, removes it, then deletes its volume."
run kubectl etcd scale demo --replicas 1 --yes --step-timeout 2m --timeout 5m || die "scale 3 → 1"
out=$($BED run --dir "$DIR" -- "$ETCDCTL" --endpoints "$EP" get greeting --print-value-only) || die "etcdctl get after scale-down"
echo "$ etcdctl get greeting → $out"
[ "$out" = "hello from make demo" ] || die "the key did not survive the scale-down (read \"$out\")"

step "Status after the scale-down"
run kubectl etcd status demo --no-color || die "status"

printf '\n%sDemo finished in %ds: 1 → 3 → 1 members, one at a time, and the key survived.%s\n' "$green" "$((SECONDS - T0))" "$off"
