#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Fork+exec storm (N x /bin/true) with podsentryd --scope all running vs
# not running, alternated in one run; reports the rate ratio (target >=
# 0.95) and the daemon's peak RSS during the storm (target <= 16 MiB).
set -u
B=${PS_BUILD:-build}
N=${EXEC_STORM_N:-20000}
ROUNDS=${EXEC_STORM_ROUNDS:-3}
BPFFS=/sys/fs/bpf/psbench-$$
TMP=$(mktemp -d /tmp/psbench.XXXXXX)
trap 'kill $DPID 2>/dev/null; wait $DPID 2>/dev/null; rm -rf "$TMP" "$BPFFS"' EXIT

rate() { "$B/bench/exec_storm" "$N" | awk '{print $3}'; }

"$B/podsentryd" --bpffs "$BPFFS" --scope all --export "$TMP/out.json" --socket "$TMP/api.sock" 2>"$TMP/log" &
DPID=$!
for _ in $(seq 200); do grep -q ready "$TMP/log" && break; sleep 0.05; done

bare=() with=()
for r in $(seq "$ROUNDS"); do
	# bare: programs detached (daemon stopped), then with the daemon
	kill -TERM $DPID; wait $DPID
	bare+=("$(rate)")
	rm -f "$TMP/out.json"
	"$B/podsentryd" --bpffs "$BPFFS" --scope all --export "$TMP/out.json" --socket "$TMP/api.sock" 2>"$TMP/log" &
	DPID=$!
	for _ in $(seq 200); do grep -q ready "$TMP/log" && break; sleep 0.05; done
	# peak RSS of the storm, not of loading (libbpf parses the kernel BTF)
	echo 5 > /proc/$DPID/clear_refs
	with+=("$(rate)")
	sleep 0.5
	hwm=$(awk '/VmHWM/ {print $2}' /proc/$DPID/status)
	echo "round $r: bare ${bare[-1]}/s  with podsentryd ${with[-1]}/s  daemon peak RSS ${hwm} KiB"
done
kill -TERM $DPID; wait $DPID; DPID=
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mb=$(median "${bare[@]}") mw=$(median "${with[@]}")
records=$(grep -c '"process_exec"' "$TMP/out.json")
lost=$(grep -c '"type":"lost"' "$TMP/out.json")
awk -v b="$mb" -v w="$mw" -v h="$hwm" -v n="$N" -v rec="$records" -v lost="$lost" 'BEGIN {
	printf "exec storm: %d x /bin/true, median bare %.0f/s, with podsentryd --scope all %.0f/s\n", n, b, w
	printf "ratio with/bare: %.3f (target >= 0.95)\n", w / b
	printf "daemon peak RSS during the storm: %.1f MiB (target <= 16)\n", h / 1024
	printf "process_exec records in the last run: %d, lost records: %d\n", rec, lost
}'
