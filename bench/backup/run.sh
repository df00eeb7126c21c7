#!/usr/bin/env bash
# bench/backup/run.sh BUILD — snapshot throughput, same data, same run:
#   etcdctl snapshot save to a local file (etcd's own client, the baseline)
#   etcd-controller snapshot-save to a local file
#   etcd-controller snapshot-save to S3 (SeaweedFS on 127.0.0.1, multipart)
# with the ratio to etcdctl and the controller process's peak resident memory
# (the EtcdBackup path is the same code: backup_run.c). One etcd 3.6 member
# holds BENCH_BACKUP_MB (default 1024) MiB of 1 MiB values. Figures, never
# pass/fail.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
MB=${BENCH_BACKUP_MB:-1024}
bins=$(scripts/kube-bins.sh --print 2>/dev/null)
ETCD=$(echo "$bins" | awk -F= '$1=="etcd" && $2 ~ /etcd-3[.]6[.]/ {print $2}' | tail -1)
WEED=$(echo "$bins" | awk -F= '$1=="s3" {print $2}' | tail -1)/weed
[ -x "$ETCD/etcd" ] || { echo "bench/backup: etcd 3.6 is not built (scripts/kube-bins.sh)"; exit 1; }
[ -x "$WEED" ] || { echo "bench/backup: SeaweedFS is not built (scripts/kube-bins.sh)"; exit 1; }
CTL=$BUILD/etcd-controller
D=$(mktemp -d /tmp/eo-bench-backup-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 -- -"$p" 2>/dev/null || kill -9 "$p" 2>/dev/null; done; rm -rf "$D"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
lowport() { local p; while :; do p=$(port); [ "$p" -lt 55000 ] && { echo "$p"; return; }; done; }

C=$(port); P=$(port)
setsid "$ETCD/etcd" --data-dir "$D/etcd" --listen-client-urls "http://127.0.0.1:$C" \
	--advertise-client-urls "http://127.0.0.1:$C" --listen-peer-urls "http://127.0.0.1:$P" \
	--initial-advertise-peer-urls "http://127.0.0.1:$P" --initial-cluster "default=http://127.0.0.1:$P" \
	--quota-backend-bytes $((8 << 30)) --max-request-bytes $((2 << 20)) >"$D/etcd.log" 2>&1 &
pids+=($!)
EP=http://127.0.0.1:$C
AK=AKIDBENCH SK=bench/secret+key
mkdir -p "$D/s3/data"
printf '{"identities":[{"name":"b","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List"]}]}\n' "$AK" "$SK" >"$D/s3/s3.json"
M=$(lowport); V=$(lowport); F=$(lowport); S=$(lowport)
setsid "$WEED" server -dir="$D/s3/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.port=$M -volume.port=$V \
	-filer.port=$F -s3 -s3.port=$S -s3.config="$D/s3/s3.json" -s3.port.iceberg=0 -s3.port.lance=0 \
	-master.telemetry=false -volume.max=16 -master.volumeSizeLimitMB=1024 >"$D/weed.log" 2>&1 &
pids+=($!)
for i in $(seq 1 120); do
	curl -s -o /dev/null "$EP/health" && curl -s -o /dev/null "http://127.0.0.1:$S/" && break
	sleep 0.5
done
curl -sf --aws-sigv4 aws:amz:us-east-1:s3 --user "$AK:$SK" -X PUT "http://127.0.0.1:$S/bench" >/dev/null \
	|| { echo "bench/backup: bucket not made"; tail -3 "$D/weed.log"; exit 1; }

echo "filling etcd with $MB MiB (1 MiB values)…"
t0=$(date +%s.%N)
python3 - "$EP" "$MB" <<'PY'
import base64, json, sys, urllib.request
ep, mb = sys.argv[1], int(sys.argv[2])
val = base64.b64encode(bytes((i * 7) & 0xff for i in range(1 << 20))).decode()
for i in range(mb):
    body = json.dumps({"key": base64.b64encode(b"/bench/%06d" % i).decode(), "value": val}).encode()
    urllib.request.urlopen(urllib.request.Request(ep + "/v3/kv/put", data=body), timeout=60).read()
PY
echo "filled in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s"

secs() { local t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || return 1; echo "$(date +%s.%N) - $t0" | bc; }
t_ctl=$(secs "$ETCD/etcdctl" --endpoints "$EP" snapshot save "$D/etcdctl.db") || { echo "etcdctl failed"; exit 1; }
size=$(stat -c %s "$D/etcdctl.db")
rm -f "$D/etcdctl.db"
file_json=$("$CTL" snapshot-save --endpoint "$EP" --out "$D/ours.db") || { echo "snapshot-save (file) failed"; exit 1; }
rm -f "$D/ours.db"
s3_json=$(AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK "$CTL" snapshot-save --endpoint "$EP" \
	--s3-endpoint "http://127.0.0.1:$S" --bucket bench --key bench/snap.db --path-style) \
	|| { echo "snapshot-save (s3) failed"; exit 1; }
python3 - "$size" "$t_ctl" "$file_json" "$s3_json" <<'PY'
import json, sys
size, t_ctl = int(sys.argv[1]), float(sys.argv[2])
f, s = json.loads(sys.argv[3]), json.loads(sys.argv[4])
mib = lambda b, t: b / 1048576.0 / t
print("snapshot of %.0f MiB (etcd 3.6):" % (size / 1048576.0))
print("  etcdctl snapshot save → file       %6.2f s  %6.1f MiB/s" % (t_ctl, mib(size, t_ctl)))
for name, r in (("etcd-controller snapshot-save → file", f), ("etcd-controller snapshot-save → S3  ", s)):
    print("  %s %6.2f s  %6.1f MiB/s  (%.2f× etcdctl's rate)  RSS %d KiB → peak %d KiB (+%d KiB)" % (
        name, r["seconds"], mib(r["size"], r["seconds"]), t_ctl / r["seconds"], r["rssStartKiB"],
        r["rssPeakKiB"], r["rssPeakKiB"] - r["rssStartKiB"]))
PY
