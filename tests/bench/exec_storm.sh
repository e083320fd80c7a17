#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Fork+exec storm (N x /bin/true) with podsentryd --scope all running vs
# not running, alternated in one run (which side goes first alternates
# too); reports the rate ratio (target >= 0.95) and the daemon's peak
# RSS during the storm (target <= 16 MiB).
set -u
B=${PS_BUILD:-build}
N=${EXEC_STORM_N:-20000}
ROUNDS=${EXEC_STORM_ROUNDS:-5}
BPFFS=/sys/fs/bpf/psbench-$$
TMP=$(mktemp -d /tmp/psbench.XXXXXX)
DPID=
trap '[ -n "$DPID" ] && { kill $DPID; wait $DPID; } 2>/dev/null; rm -rf "$TMP" "$BPFFS"' EXIT

# A run starts with nothing dirty to write back: the daemon's export of
# the run before (~10 MB) is otherwise written back in the next one.
rate() { sync; "$B/bench/exec_storm" "$N" | awk '{print $3}'; }
daemon_up() {
	rm -f "$TMP/out.json"
	"$B/podsentryd" --bpffs "$BPFFS" --scope all --export "$TMP/out.json" --socket "$TMP/api.sock" 2>"$TMP/log" &
	DPID=$!
	for _ in $(seq 200); do grep -q ready "$TMP/log" && break; sleep 0.05; done
}

bare=() with=()
side_bare() { # programs detached: the daemon stopped
	if [ -n "$DPID" ]; then kill -TERM $DPID; wait $DPID; DPID=; fi
	sleep 1 # what the kernel frees after the daemon, off the clock
	bare+=("$(rate)")
}
side_with() {
	[ -n "$DPID" ] || daemon_up
	# peak RSS of the storm, not of loading (libbpf parses the kernel BTF)
	echo 5 > /proc/$DPID/clear_refs
	with+=("$(rate)")
	sleep 0.5
	hwm=$(awk '/VmHWM/ {print $2}' /proc/$DPID/status)
	# the next with side starts a new daemon: records of one run each
	kill -TERM $DPID; wait $DPID; DPID=
}
daemon_up # once before the rounds: the first with side is not the first load
# which side goes first alternates with the round
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then side_bare; side_with; else side_with; side_bare; fi
	echo "round $r: bare ${bare[-1]}/s  with podsentryd ${with[-1]}/s  daemon peak RSS ${hwm} KiB"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mb=$(median "${bare[@]}") mw=$(median "${with[@]}")
# the export of the last with side (the bare side writes none)
records=$(grep -c '"process_exec"' "$TMP/out.json")
lost=$(grep -c '"type":"lost"' "$TMP/out.json")
# each round's with rate over the same round's bare rate: "median (min-max)"
paired=$(for i in "${!with[@]}"; do echo "${with[$i]} ${bare[$i]}"; done | awk '{ print $1 / $2 }' |
	sort -n | awk '{ a[NR] = $1 } END { printf "%.3f (%.3f-%.3f)", a[int((NR + 1) / 2)], a[1], a[NR] }')
awk -v b="$mb" -v w="$mw" -v h="$hwm" -v n="$N" -v rec="$records" -v lost="$lost" -v pw="$paired" 'BEGIN {
	printf "exec storm: %d x /bin/true, median bare %.0f/s, with podsentryd --scope all %.0f/s\n", n, b, w
	printf "ratio with/bare: %.3f (target >= 0.95); paired (each round against its own bare run), median and spread: %s\n", w / b, pw
	printf "daemon peak RSS during the storm: %.1f MiB (target <= 16)\n", h / 1024
	printf "process_exec records in the last run: %d, lost records: %d\n", rec, lost
}'
