#!/usr/bin/env bash
# test/run.sh BUILD — runs every suite and ends with one summary line,
#   "N passed, N failed"
# counted over test cases (cmocka and unittest report their own counts; a
# script counts as one). A crash or a sanitizer report is a failure even when
# the runner's own line said otherwise. SUITES=unit,e2e limits what runs.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
SUITES=${SUITES:-unit,unit-san,model,model-san,integration,integration-san,bed,e2e,demo,fuzz}
export EO_BUILD=$(cd "$BUILD" && pwd)
export PYTHONPATH=$ROOT/test${PYTHONPATH:+:$PYTHONPATH}   # the bed's package, kbed
# Real etcd for the integration suites, from scripts/kube-bins.sh's cache: the
# plain run on 3.6, the sanitizer run on 3.5, so both releases are exercised.
etcd_dir() { scripts/kube-bins.sh --print 2>/dev/null | awk -F= -v m="etcd-$1." '$1=="etcd" && index($2, m) {print $2}' | tail -1; }
ETCD36=$(etcd_dir 3.6); ETCD35=$(etcd_dir 3.5)
# kubectl at the control plane's release, first on PATH (kubectl supports one minor of skew)
KUBECTL_DIR=$(scripts/kube-bins.sh --print 2>/dev/null | awk -F= '$1=="kubectl" {print $2}')
[ -n "$KUBECTL_DIR" ] && export PATH=$KUBECTL_DIR:$PATH
etcd_version() { local v=${1##*/etcd-}; echo "${v%-*}"; }   # …/etcd-3.6.16-<hash> → 3.6.16
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
LOGDIR=${TEST_LOGDIR:-$EO_BUILD/test-logs}
mkdir -p "$LOGDIR"

passed=0; failed=0; failures=()
# every bed notes a log of its own holding a private key here (harness.py)
export EO_KEY_LEAKS=$LOGDIR/key-leaks.txt
rm -f "$EO_KEY_LEAKS"
start_all=$SECONDS

want() { [[ ",$SUITES," == *",$1,"* ]]; }

record() { # name passed failed
	passed=$((passed + $2)); failed=$((failed + $3))
	[ "$3" -gt 0 ] && failures+=("$1")
	printf '  %-48s %3d passed, %d failed\n' "$1" "$2" "$3"
}

run_cmocka() { # suite binary
	local bin=$1 name log p f rc
	name="$2/$(basename "$bin")"
	log="$LOGDIR/${name//\//_}.log"
	CMOCKA_MESSAGE_OUTPUT=stdout timeout 600 "$bin" >"$log" 2>&1; rc=$?
	p=$(awk '/\[  PASSED  \]/{s+=$4} END{print s+0}' "$log")
	f=$(awk '/\[  FAILED  \] [0-9]+ test/{s+=$4} END{print s+0}' "$log")
	if grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$log"; then
		echo "    sanitizer report in $name:"; grep -m3 -E 'Sanitizer|runtime error' "$log" | sed 's/^/      /'
		[ "$f" -eq 0 ] && f=1
	fi
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "    $name exited $rc (see $log)"; tail -5 "$log" | sed 's/^/      /'; fi
	[ "$f" -gt 0 ] && grep -E '\[  (FAILED|ERROR)  \]|^\[ +ERROR|Failure!|error:' "$log" | head -20 | sed 's/^/      /'
	record "$name" "$p" "$f"
}

unittest_log() { local name="$2/$(basename "$1" .py)"; echo "$LOGDIR/${name//\//_}.log"; }

unittest_exec() { # file.py suite: run it, its log and exit status beside it
	local log; log=$(unittest_log "$1" "$2")
	(cd "$(dirname "$1")" && timeout 1200 python3 -m unittest -v "$(basename "$1" .py)") >"$log" 2>&1
	echo $? >"$log.rc"
}

run_unittest() { unittest_exec "$1" "$2"; unittest_tally "$1" "$2"; }

unittest_tally() { # file.py suite: count what its log says
	local file=$1 name log p f s rc
	name="$2/$(basename "$file" .py)"
	log=$(unittest_log "$1" "$2")
	rc=$(cat "$log.rc" 2>/dev/null || echo 1)
	p=$(awk '/^Ran [0-9]+ test/{print $2}' "$log" | tail -1); p=${p:-0}
	f=$(grep -oE '(failures|errors)=[0-9]+' "$log" | awk -F= '{s+=$2} END{print s+0}')
	s=$(grep -oE 'skipped=[0-9]+' "$log" | tail -1 | cut -d= -f2); s=${s:-0}
	p=$((p - f - s))
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	[ "$f" -gt 0 ] && { grep -E '^(FAIL|ERROR):' "$log" | head -20 | sed 's/^/      /'
		# the reason, so a run whose logs are gone still says why
		grep -E '^[A-Za-z.]*(Error|Exception): ' "$log" | head -5 | cut -c1-400 | sed 's/^/        /'
		echo "      log: $log"; }
	record "$name" "$p" "$f"
}

run_script() { # suite script
	local file=$1 name log rc
	name="$2/$(basename "$file")"
	log="$LOGDIR/${name//\//_}.log"
	timeout 1200 "$file" >"$log" 2>&1; rc=$?
	if [ $rc -eq 0 ]; then record "$name" 1 0; else
		echo "    $name exited $rc; last lines of $log:"; tail -15 "$log" | sed 's/^/      /'
		record "$name" 0 1; fi
}

run_model() { # suite binary wanted-exit label [args…]: one test; a wanted violation
	# must come with its trace, and a sanitizer report fails it
	local bin=$2 want=$3 name log rc ok=1
	name="$1/$4"; shift 4
	log="$LOGDIR/${name//\//_}.log"
	timeout 600 "$bin" -q "$@" >"$log" 2>&1; rc=$?
	[ $rc -eq "$want" ] || ok=0
	[ "$want" -ne 0 ] && ! grep -q '^shortest trace' "$log" && ok=0
	grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$log" && ok=0
	grep -m1 -E 'states explored' "$log" | sed 's/^/    /'
	if [ $ok -eq 1 ]; then record "$name" 1 0; else
		echo "    $name exited $rc (wanted $want); last lines of $log:"; tail -15 "$log" | sed 's/^/      /'
		record "$name" 0 1; fi
}

suite() { echo "== $1"; }

if want unit; then suite "unit (cmocka)"
	# the rooms of shared/ in their order, the pure ones free of I/O
	log="$LOGDIR/unit_check-rooms.log"
	if scripts/check-rooms.sh "$EO_BUILD" >"$log" 2>&1; then record "unit/rooms (scripts/check-rooms.sh)" 1 0
	else sed 's/^/      /' "$log" | head -20; record "unit/rooms (scripts/check-rooms.sh)" 0 1; fi
	for b in "$EO_BUILD"/test/unit/test_*; do [ -x "$b" ] && run_cmocka "$b" unit; done; fi
if want unit-san; then suite "unit, AddressSanitizer + UndefinedBehaviorSanitizer"
	for b in "$EO_BUILD"/san/test/unit/test_*; do [ -x "$b" ] && run_cmocka "$b" unit-san; done; fi
if want model; then suite "model checker of the scaling decision (test/model)"
	b="$EO_BUILD/test/model/check_scaling"
	if [ -x "$b" ]; then run_model model "$b" 0 default-bound
		run_model model "$b" 1 seeded-voter-first-caught --seed-bug voter-first; fi; fi
if want model-san; then suite "model checker, sanitizers (a smaller bound)"
	b="$EO_BUILD/san/test/model/check_scaling"
	if [ -x "$b" ]; then run_model model-san "$b" 0 bound-1 --bound 1
		run_model model-san "$b" 1 seeded-voter-first-caught --seed-bug voter-first; fi; fi
if want integration; then suite "integration (real etcd $(etcd_version "$ETCD36"), real HTTPS)"
	export ETCD_BIN=$ETCD36/etcd
	for b in "$EO_BUILD"/test/integration/test_*; do [ -x "$b" ] && run_cmocka "$b" integration; done
	for s in test/integration/test_*.sh; do [ -x "$s" ] && run_script "$s" integration; done
	for s in test/integration/test_*.py; do [ -f "$s" ] && run_unittest "$s" integration; done; fi
if want integration-san; then suite "integration, sanitizers (real etcd $(etcd_version "$ETCD35"))"
	export ETCD_BIN=$ETCD35/etcd
	for b in "$EO_BUILD"/san/test/integration/test_*; do [ -x "$b" ] && run_cmocka "$b" integration-san; done; fi
if want bed; then suite "test bed (kbed: real kube-apiserver, controller-manager, scheduler) with the real kubectl"
	for s in test/kbed/test_*.py; do [ -f "$s" ] && run_unittest "$s" bed; done; fi
if want e2e; then suite "end to end on the real control plane"
	# every bed records its operator ServiceAccounts' calls here; test_zz_rbac, last,
	# holds the union against manifests/rbac
	export EO_RBAC_USAGE=$LOGDIR/rbac-usage.jsonl
	rm -f "$EO_RBAC_USAGE"
	# Each test file has a bed of its own (its own network namespace, API
	# server and directory), so they run in E2E_LANES lanes at once (most of
	# a test is waiting for Pods); the files are dealt longest first to the
	# lane with the least work, by the seconds each took on a 2-core VM.
	# test_zz_rbac reads every bed's record: it runs alone, last.
	lanes=${E2E_LANES:-2}
	declare -A weight=([test_backup]=190 [test_controller_faults]=180 [test_tls]=175 [test_upgrade]=170
		[test_controller]=155 [test_realk8s]=145 [test_plugin_lifecycle]=120 [test_member_guard]=47
		[test_controller_oldorder]=43 [test_plugin]=41 [test_controller_leader]=35 [test_install]=30
		[test_plugin_scale]=30 [test_volumes]=40 [test_etcd37]=65 [test_webhook]=11 [test_helm]=55
		[test_spec]=30 [test_plugin_day2]=60 [test_space]=60 [test_release_install]=85)
	files=(); for s in test/e2e/test_*.py; do [ -f "$s" ] && [[ $s != *test_zz_* ]] && files+=("$s"); done
	mapfile -t files < <(for s in "${files[@]}"; do b=$(basename "$s" .py); echo "${weight[$b]:-60} $s"; done |
		sort -rn | cut -d' ' -f2)
	declare -a load lane_files
	for ((i = 0; i < lanes; i++)); do load[i]=0; lane_files[i]=""; done
	for s in "${files[@]}"; do
		b=$(basename "$s" .py); best=0
		for ((i = 1; i < lanes; i++)); do [ "${load[i]}" -lt "${load[best]}" ] && best=$i; done
		load[best]=$((load[best] + ${weight[$b]:-60})); lane_files[best]+="$s "
	done
	for ((i = 0; i < lanes; i++)); do
		( for s in ${lane_files[i]}; do unittest_exec "$s" e2e; done ) &
	done
	wait
	for s in test/e2e/test_*.py; do [ -f "$s" ] && [[ $s != *test_zz_* ]] && unittest_tally "$s" e2e; done
	for s in test/e2e/test_zz_*.py; do [ -f "$s" ] && run_unittest "$s" e2e; done; fi
if want fuzz; then suite "fuzz (bounded)"
	for s in test/fuzz/run.sh; do [ -x "$s" ] && run_script "$s" fuzz; done; fi
if want demo; then suite "make demo"
	[ -x scripts/demo.sh ] && run_script scripts/demo.sh demo; fi

# No key material in any log of the run: the beds' own (above) and these.
leaks=$( { cat "$EO_KEY_LEAKS" 2>/dev/null; grep -l -- 'PRIVATE KEY-----' "$LOGDIR"/*.log 2>/dev/null; } )
if [ -n "$leaks" ]; then echo "  a private key in a log:"; echo "$leaks" | sed 's/^/    /'; record "keys/logs" 0 1
else record "keys/logs (no private key in any log of the run)" 1 0; fi

echo
echo "test time: $((SECONDS - start_all))s; logs in $LOGDIR"
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
