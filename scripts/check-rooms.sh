#!/usr/bin/env bash
# scripts/check-rooms.sh [BUILD] — the shape of libetcdop, checked rather
# than promised (docs/architecture.md):
#
# 1. Direction. shared/ is split into rooms, listed in the Makefile's ROOMS in
#    the order they may use each other: a file may include headers of its own
#    room and of the rooms before it, never of a room after it. So the
#    EtcdCluster model never reaches for the Kubernetes client, and the
#    admission rules never for etcd.
# 2. Purity. The pure rooms (the model, the admission rules, the scaling
#    decision) do no I/O: their objects call no function that reads or writes
#    files, sockets or the terminal, asks the clock or the environment, sleeps,
#    starts threads, logs, or calls the Kubernetes, etcd or S3 clients. Their
#    callers do that and hand them values; that is what lets the unit tests
#    and the model checker drive them alone.
#
# Exit 0 when both hold; otherwise each breach on its own line and exit 1.
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
rooms=($(sed -n 's/^ROOMS *:= *//p' Makefile))
pure=(api policy decide)
[ ${#rooms[@]} -gt 0 ] || { echo "check-rooms: no ROOMS line in the Makefile"; exit 2; }
bad=0

room_index() { local i; for i in "${!rooms[@]}"; do [ "${rooms[$i]}" = "$1" ] && echo "$i" && return; done; echo -1; }

# Which room holds header $1 (by name: every room is on the include path).
declare -A home
for r in "${rooms[@]}"; do
	for h in shared/"$r"/*.h; do
		[ -f "$h" ] || continue
		b=$(basename "$h")
		if [ -n "${home[$b]:-}" ]; then
			echo "check-rooms: $b is in both shared/${home[$b]}/ and shared/$r/ (names must be unique: headers are included by name)"
			bad=1
		fi
		home[$b]=$r
	done
done

for r in "${rooms[@]}"; do
	ri=$(room_index "$r")
	for f in shared/"$r"/*.[ch]; do
		[ -f "$f" ] || continue
		while IFS=: read -r line inc; do
			h=$(sed 's/.*"\(.*\)".*/\1/' <<<"$inc")
			hr=${home[$h]:-}
			if [ -z "$hr" ]; then
				echo "$f:$line: includes \"$h\", which is in no room of shared/"
				bad=1
			elif [ "$(room_index "$hr")" -gt "$ri" ]; then
				echo "$f:$line: shared/$r may not use shared/$hr ($h): a room uses the rooms before it (${rooms[*]}), never one after"
				bad=1
			fi
		done < <(grep -n '^#include "' "$f" | sed 's/^\([0-9]*\):/\1:/')
	done
done
# Nothing may sit in shared/ outside a room: it would be in no order at all.
for f in shared/*.[ch]; do
	[ -f "$f" ] && { echo "$f: outside every room of shared/ (${rooms[*]})"; bad=1; }
done

# Purity, from the objects' undefined symbols (what they call).
io='^(open|openat|fopen|fdopen|freopen|read|write|pread|pwrite|close|fclose|fread|fwrite|fgets|fputs|puts|printf|fprintf|vfprintf|dprintf|perror|getline|socket|connect|bind|listen|accept|send|recv|sendto|recvfrom|poll|select|epoll_.*|ioctl|time|clock_gettime|gettimeofday|getenv|secure_getenv|setenv|sleep|usleep|nanosleep|pthread_.*|fork|exec.*|system|popen|rand|random|srand|getrandom|unlink|rename|mkdir|stat|fstat|lstat|log_.*|kube_.*|kubeconfig_.*|etcd_.*|snapshot_.*|s3_.*|curl_.*|MHD_.*|gnutls_.*)$'
for r in "${pure[@]}"; do
	objs=("$BUILD"/obj/shared/"$r"/*.o)
	[ -f "${objs[0]}" ] || { echo "check-rooms: no objects under $BUILD/obj/shared/$r (build first: make)"; bad=1; continue; }
	for o in "${objs[@]}"; do
		while read -r sym; do
			echo "shared/$r/$(basename "$o" .o).c calls $sym: the $r room is pure (no I/O); its caller does that and passes the result in"
			bad=1
		done < <(nm -u "$o" | awk '{print $NF}' | sed 's/@.*//' | grep -E "$io")
	done
done

if [ $bad -eq 0 ]; then
	echo "check-rooms: ${#rooms[@]} rooms (${rooms[*]}) in order; pure rooms (${pure[*]}) call no I/O"
fi
exit $bad
