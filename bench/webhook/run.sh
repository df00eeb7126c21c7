#!/usr/bin/env bash
# bench/webhook/run.sh BUILD — etcd-webhook against a Go standard-library
# peer (bench/webhook/go-peer: same rules, same answers), in the same run.
#
# Each server in turn is pinned to CPU 0 (taskset), wrk to CPU 1, TLS
# keep-alive, one AdmissionReview body per endpoint (bench/webhook/bodies:
# real-sized objects with managedFields and status). Per server and endpoint:
#   - 64 connections, closed loop (saturating): req/s, p50, p99;
#   - 64 connections with 20 ms think time each (about 3 000 req/s, a load
#     neither server is saturated by): p50, p99 where queueing does not
#     dominate — latency at saturation is connections ÷ throughput whatever
#     the server does;
# then peak RSS (VmHWM; it counts the shared libraries' pages, which other
# processes on the node share) and the private anonymous memory. Rounds alternate which server goes first; the
# figures are medians over rounds with the spread, and ratios are taken per
# round and then the median. wrk's own CPU is shown: near 100 % means the
# load generator, not the server, was the limit.
#
#   BENCH_ROUNDS (3)  BENCH_SECONDS (8)  BENCH_LIGHT_SECONDS (6)
# Prints figures; never fails on speed. Exits non-zero only when it cannot run.
set -u
BUILD=${1:-${EO_BUILD:-build}}
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$BUILD" && pwd)
ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECONDS:-8}
LIGHT=${BENCH_LIGHT_SECONDS:-6}
C_BIN=$BUILD/etcd-webhook

for tool in wrk go taskset openssl python3; do
	command -v $tool >/dev/null || { echo "bench/webhook: $tool not found (scripts/install-deps.sh --bench)"; exit 1; }
done
[ -x "$C_BIN" ] || { echo "bench/webhook: $C_BIN not built (make all)"; exit 1; }

WORK=$(mktemp -d /tmp/eo-bench-webhook.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The Go peer: standard library only, built offline into the scratch dir.
echo "building the Go peer ($(go version | cut -d' ' -f3))"
(cd "$HERE/go-peer" && GOCACHE=$WORK/gocache GOPATH=$WORK/gopath GOPROXY=off GOFLAGS= \
	GOTELEMETRY=off go build -o "$WORK/go-peer" .) || { echo "bench/webhook: go build failed"; exit 1; }

ADDR=127.12.$((RANDOM % 256)).$((1 + RANDOM % 254))
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-keyout "$WORK/tls.key" -out "$WORK/tls.crt" -subj "/CN=etcd-webhook.bench" \
	-addext "subjectAltName=IP:$ADDR" 2>/dev/null || { echo "bench/webhook: openssl failed"; exit 1; }

NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then SRV_PIN="taskset -c 0"; CLI_PIN="taskset -c 1"; PINNED="server on CPU 0, wrk on CPU 1"
else SRV_PIN=""; CLI_PIN=""; PINNED="one CPU only: not pinned, figures are rough"; fi

start_server() { # impl port → sets SPID
	local impl=$1 port=$2 bin
	[ "$impl" = C ] && bin=$C_BIN || bin=$WORK/go-peer
	$SRV_PIN "$bin" --tls-cert-file "$WORK/tls.crt" --tls-private-key-file "$WORK/tls.key" \
		--secure-port "$port" --bind-address "$ADDR" 2>/dev/null &
	SPID=$!
	PIDS+=("$SPID")
	for _ in $(seq 100); do
		curl -sk -o /dev/null "https://$ADDR:$port/healthz" && return 0
		sleep 0.05
	done
	echo "bench/webhook: $impl server did not come up"; return 1
}

stop_server() {
	kill -TERM "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
}

# The server's CPU time so far, in clock ticks (utime + stime, all threads).
srv_ticks() { awk '{print $14 + $15}' "/proc/$SPID/stat"; }

run_wrk() { # url body conns delay secs → "RESULT ... cpu=N srv_ticks=N"
	local out t0 t1
	t0=$(srv_ticks)
	out=$(WRK_BODY=$2 WRK_DELAY_MS=$4 /usr/bin/time -f "WRKCPU %P" $CLI_PIN \
		wrk -t1 -c"$3" -d"$5"s -s "$HERE/post.lua" "$1" 2>&1)
	t1=$(srv_ticks)
	echo "$(grep '^RESULT' <<<"$out") cpu=$(grep '^WRKCPU' <<<"$out" | tr -dc 0-9) srv_ticks=$((t1 - t0))"
}

RES=$WORK/results.tsv
: >"$RES"
PORT=$((20000 + RANDOM % 30000))
echo "webhook benchmark: $ROUNDS rounds, ${SECS}s saturating + ${LIGHT}s at ~3k req/s per run; $PINNED; TLS keep-alive to $ADDR"
for round in $(seq "$ROUNDS"); do
	if [ $((round % 2)) -eq 1 ]; then order="C Go"; else order="Go C"; fi
	for impl in $order; do
		PORT=$((PORT + 1))
		start_server "$impl" "$PORT" || exit 1
		url=https://$ADDR:$PORT
		if [ "$round" -eq 1 ] && [ "$impl" = "C" ]; then C_URL=$url; fi
		run_wrk "$url/validate" "$HERE/bodies/validate.json" 16 0 1 >/dev/null # warm up
		for ep in validate mutate; do
			r=$(run_wrk "$url/$ep" "$HERE/bodies/$ep.json" 64 0 "$SECS")
			echo -e "$round\t$impl\t$ep\tsat\t$r" >>"$RES"
			r=$(run_wrk "$url/$ep" "$HERE/bodies/$ep.json" 64 20 "$LIGHT")
			echo -e "$round\t$impl\t$ep\tlight\t$r" >>"$RES"
		done
		[ "$impl" = C ] && curl -sk "$url/metrics" >"$WORK/metrics.$round"
		hwm=$(awk '/VmHWM/{print $2}' "/proc/$SPID/status")
		anon=$(awk '/RssAnon/{print $2}' "/proc/$SPID/status")
		echo -e "$round\t$impl\t-\trss\tRESULT hwm_kb=$hwm anon_kb=$anon" >>"$RES"
		stop_server
		printf '  round %d: %-2s done (peak RSS %s kB)\n' "$round" "$impl" "$hwm"
	done
done

# The same answers, checked on the corpus the fuzzer starts from.
start_server C $((PORT + 1)) && CU=https://$ADDR:$((PORT + 1)) && CP=$SPID
start_server Go $((PORT + 2)) && GU=https://$ADDR:$((PORT + 2))
python3 "$HERE/same_answers.py" "$CU" "$GU" "$HERE"/../../test/fuzz/corpus/*.mutate \
	"$HERE"/../../test/fuzz/corpus/*.validate "$HERE"/bodies/*.json | tail -1
stop_server; SPID=$CP; stop_server

python3 - "$RES" "$WORK" <<'PY'
import glob, re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    rnd, impl, ep, kind, rest = line.rstrip("\n").split("\t", 4)
    kv = dict(re.findall(r"(\w+)=([\d.]+)", rest))
    rows[(int(rnd), impl, ep, kind)] = {k: float(v) for k, v in kv.items()}
rounds = sorted({k[0] for k in rows})
def series(impl, ep, kind, f):
    return [f(rows[(r, impl, ep, kind)]) for r in rounds if (r, impl, ep, kind) in rows]
def med(xs): return statistics.median(xs) if xs else float("nan")
def spread(xs): return "%s–%s" % (fmt(min(xs)), fmt(max(xs))) if xs else "-"
def fmt(x): return "%.0f" % x if x >= 100 else "%.2f" % x
rps = lambda r: r["reqs"] / r["secs"] if r.get("secs") else 0
import os
HZ = os.sysconf("SC_CLK_TCK")
# Server CPU per request: what a request costs whatever else the machine does.
cpu_us = lambda r: r["srv_ticks"] / HZ * 1e6 / r["reqs"] if r.get("reqs") else 0
print()
print("%-9s %-8s %-2s %10s %13s %9s %9s %10s %7s %7s" % ("endpoint", "load", "", "req/s", "(spread)", "p50 µs", "p99 µs", "CPU µs/req", "errors", "wrk CPU"))
for ep in ("validate", "mutate"):
    for kind, label in (("sat", "64c"), ("light", "64c+20ms")):
        for impl in ("C", "Go"):
            s = series(impl, ep, kind, rps)
            print("%-9s %-8s %-2s %10s %13s %9s %9s %10s %7d %6s%%" % (
                ep, label, impl, fmt(med(s)), "(%s)" % spread(s),
                fmt(med(series(impl, ep, kind, lambda r: r["p50_us"]))),
                fmt(med(series(impl, ep, kind, lambda r: r["p99_us"]))),
                fmt(med(series(impl, ep, kind, cpu_us))),
                sum(series(impl, ep, kind, lambda r: r["errors"] + r["non2xx"])),
                fmt(med(series(impl, ep, kind, lambda r: r.get("cpu", 0))))))
hwm = {impl: series(impl, "-", "rss", lambda r: r["hwm_kb"]) for impl in ("C", "Go")}
anon = {impl: series(impl, "-", "rss", lambda r: r["anon_kb"]) for impl in ("C", "Go")}
print()
for impl in ("C", "Go"):
    print("peak RSS %-2s %8s kB  (spread %s); private anonymous after the runs %s kB" % (
        impl, fmt(med(hwm[impl])), spread(hwm[impl]), fmt(med(anon[impl]))))
print()
print("ratios C/Go (per round, median):")
for ep in ("validate", "mutate"):
    tp = [rps(rows[(r, "C", ep, "sat")]) / rps(rows[(r, "Go", ep, "sat")]) for r in rounds]
    p99 = [rows[(r, "C", ep, "sat")]["p99_us"] / rows[(r, "Go", ep, "sat")]["p99_us"] for r in rounds]
    lp99 = [rows[(r, "C", ep, "light")]["p99_us"] / rows[(r, "Go", ep, "light")]["p99_us"] for r in rounds]
    cpu = [cpu_us(rows[(r, "C", ep, "sat")]) / cpu_us(rows[(r, "Go", ep, "sat")]) for r in rounds]
    print("  %-9s throughput %.2f×   p99 at 64c %.2f×   p99 at 64c+20ms %.2f×   CPU per request %.2f×" % (
        ep, med(tp), med(p99), med(lp99), med(cpu)))
mem = [rows[(r, "C", "-", "rss")]["hwm_kb"] / rows[(r, "Go", "-", "rss")]["hwm_kb"] for r in rounds]
pmem = [rows[(r, "C", "-", "rss")]["anon_kb"] / rows[(r, "Go", "-", "rss")]["anon_kb"] for r in rounds]
print("  peak RSS   %.2f×   private anonymous memory %.2f×" % (med(mem), med(pmem)))

# The C server's own view: its latency histogram (headers in → answer
# queued), over every request of a round; the bucket holding the 99th.
def handler_p(text, ep, q):
    b = [(float(le) if le != "+Inf" else float("inf"), int(n)) for le, n in re.findall(
        r'etcd_webhook_request_duration_seconds_bucket\{endpoint="%s",le="([^"]+)"\} (\d+)' % ep, text)]
    total = b[-1][1] if b else 0
    for le, n in b:
        if total and n >= q * total:
            return le
    return float("nan")
print()
for ep in ("validate", "mutate"):
    texts = [open(f).read() for f in sorted(glob.glob(sys.argv[2] + "/metrics.*"))]
    p50 = [handler_p(t, ep, 0.5) for t in texts]
    p99 = [handler_p(t, ep, 0.99) for t in texts]
    print("C handler time (its /metrics histogram), %-8s p50 ≤ %g s, p99 ≤ %g s (median bucket over rounds)" % (
        ep, med(p50), med(p99)))
PY
