#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Pod-to-pod TCP connect/request/response/close rate with podsentryd doing
# full flow-process correlation (every connection logged: one flow record
# naming both pods and processes) vs bare, alternated in one run (the
# side that goes first alternates with the round), and the
# same with --flow-aggregate 10; reports the ratios (targets: >= 0.85 of
# bare and >= 0.97 of the bpftrace-counting peer, goal 0.95; aggregated
# >= 0.95), the busy CPU per connection of the whole machine on each side
# (bare/with), the JSON bytes written to the node export per connection
# (target <= 800), and the share of flow records that name both
# processes. Bare: pods made by [bridge] alone with podsentryd stopped;
# with: pods made by [bridge, podsentry-cni] and podsentryd running. The
# peers of ../shared/ENVIRONMENT.md run on the
# bare pods in the same rounds: bpftrace printing every socket state
# change, connect, accept and exec to a file ("print": events streamed to
# user space), and the same probes only counted in a kernel map ("count");
# CRR_PEERS=0 leaves them out. Then one more run with the kernel's BPF
# statistics on prints the cost per connection of each program and of the
# daemon (CRR_PROG_STATS=0 skips it).
export PS_TEST_PREFIX=${PS_TEST_PREFIX:-bcr$(printf '%04x' $((RANDOM)))}
export PS_TEST_TMP=/tmp/psbench-$PS_TEST_PREFIX
export PS_TEST_BPFFS=/sys/fs/bpf/psbench-$PS_TEST_PREFIX
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"
set -u
CRR=$B/bench/crr
N=${CRR_N:-20000}
ROUNDS=${CRR_ROUNDS:-5}
WORKERS=${CRR_WORKERS:-2}

cleanup() {
	daemon_stop 2>/dev/null
	[ -n "${PEER:-}" ] && peer_stop
	[ -n "${CRR_KEEP:-}" ] && cp "$T/export.json" "$T/daemon.log" "$CRR_KEEP/" # CRR_KEEP=DIR keeps the records
	[ -n "${SRV_W:-}" ] && kill $SRV_W $SRV_B 2>/dev/null
	if [ -n "${WITH:-}" ]; then
		CONFLIST=$WITH; cni_del "${P}wa" "${P}wa" >/dev/null 2>&1; cni_del "${P}wb" "${P}wb" >/dev/null 2>&1
		CONFLIST=$BARE; cni_del "${P}ba" "${P}ba" >/dev/null 2>&1; cni_del "${P}bb" "${P}bb" >/dev/null 2>&1
	fi
	for ns in wa wb ba bb; do ip netns del "$P$ns" 2>/dev/null; done
	ip link del "${P}br" 2>/dev/null; ip link del "${P}bx" 2>/dev/null
	rm -rf "$T" "$BPFFS"
}
trap cleanup EXIT

daemon_start --state-dir "$STATE" --keep-pins --flow-idle 5 || exit 1
cni_conflist && WITH=$T/with.conflist && mv "$CONFLIST" "$WITH"
NET=${P}bnet BR=${P}bx
cni_conflist '{}' 0 && BARE=$T/bare.conflist && mv "$CONFLIST" "$BARE"
# pod NAME CONFLIST: a pod; prints its IP
pod() {
	local ns
	ns=$(netns_add "$1") || return 1
	CONFLIST=$2 cni_add "$ns" "$ns" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=$1" |
		jq -r '.ips[0].address' | cut -d/ -f1
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1
}
IPW=$(pod wb "$WITH") && pod wa "$WITH" >/dev/null && IPB=$(pod bb "$BARE") && pod ba "$BARE" >/dev/null ||
	{ echo "correlation_crr: pod setup failed" >&2; exit 1; }
ip netns exec "${P}wb" "$CRR" server 7001 "$WORKERS" & SRV_W=$!
ip netns exec "${P}bb" "$CRR" server 7001 "$WORKERS" & SRV_B=$!
sleep 0.5
# CRR_PERF=DIR: a system-wide perf profile of each run, DIR/POD.NS.data
rate() {
	local pre=()
	[ -n "${CRR_PERF:-}" ] && pre=(perf record -q -a -g -o "$CRR_PERF/$1.$(date +%s%N).data" --)
	"${pre[@]}" ip netns exec "$P$1" "$CRR" client "$2" 7001 "$N" "$WORKERS" | awk '{print $6}' | tr -d '/s'
}
rate wa "$IPW" >/dev/null # warm up both paths
rate ba "$IPB" >/dev/null

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; } # utime + stime
# busy CPU of the whole machine (user, nice, system, irq, softirq), ticks
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# CPU µs per connection from a rate() run to DRAIN s after it (the daemon
# writes a flow's final record after a 3 s linger; both sides wait the
# same): steadier than the rate on a shared VM, and what the overhead
# costs wherever the CPU is spent
DRAIN=4
# Each side writes its own files (the export: ~25 MB a run; bpftrace's
# print peer: ~14 MB), which the kernel writes back ~30 s later, in
# whichever side runs then: a side starts with nothing dirty (start_ticks)
# and pays for its own writeback within its figure (per_conn).
per_conn() { sleep "$DRAIN"; sync; echo $(( ($(busy_ticks) - $1) * 1000000 / $(getconf CLK_TCK) / N )); }
start_ticks() { sync; busy_ticks; }
# peer_start print|count: bpftrace on the probes a socket/exec tracer
# needs, attached before it returns; peer_stop ends it
PEER_PROBES='tracepoint:sock:inet_sock_set_state, tracepoint:syscalls:sys_enter_connect,
tracepoint:syscalls:sys_exit_accept, tracepoint:syscalls:sys_exit_accept4,
tracepoint:sched:sched_process_exec'
peer_start() {
	local body i
	if [ "$1" = print ]; then
		body='{ printf("%llu %s %d %s %d %d\n", nsecs, probe, pid, comm, tid, cpu); }'
	else
		body='{ @[probe] = count(); }'
	fi
	: >"$T/peer.out"
	bpftrace -o "$T/peer.out" -e "$PEER_PROBES $body" >/dev/null 2>"$T/peer.err" & PEER=$!
	for i in $(seq 200); do
		grep -q '^Attaching' "$T/peer.out" && { sleep 0.2; return 0; }
		kill -0 "$PEER" 2>/dev/null || break
		sleep 0.05
	done
	echo "correlation_crr: bpftrace ($1) did not start:" >&2
	cat "$T/peer.err" >&2
	return 1
}
# (bpftrace has been seen to miss a SIGINT: it is sent again, then KILL)
peer_stop() {
	local i
	for i in 1 2 3 4 5 6 7 8 9 10 11; do
		kill -0 "$PEER" 2>/dev/null || break
		case $i in 11) kill -KILL "$PEER" ;; 1|5|9) kill -INT "$PEER" ;; esac
		sleep 0.5
	done 2>/dev/null
	wait "$PEER" 2>/dev/null
	PEER=
}
PEERS=()
if [ "${CRR_PEERS:-1}" = 1 ]; then
	command -v bpftrace >/dev/null || { echo "correlation_crr: bpftrace is missing (make deps)" >&2; exit 1; }
	# bpftrace attaches to tracepoints by name
	mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs tracefs /sys/kernel/tracing ||
		{ echo "correlation_crr: tracefs is not mounted and cannot be" >&2; exit 1; }
	PEERS=(print count)
fi
declare -A peer peer_us
bare=() with=() bare_us=() with_us=() agg=() agg_us=() bytes=()
esize() { stat -c %s "$T/export.json" 2>/dev/null || echo 0; }
# the three sides of a round; which goes first alternates with the round
# (bare first in odd rounds, aggregated first in even ones): this VM
# drifts within seconds, and the order must not favour a side
side_bare() {
	local m us lines
	daemon_stop
	b0=$(start_ticks)
	bare+=("$(rate ba "$IPB")")
	bare_us+=("$(per_conn "$b0")")
	echo "round $r: bare ${bare[-1]}/s ${bare_us[-1]} µs CPU/conn"
	for m in "${PEERS[@]}"; do
		peer_start "$m" || exit 1
		b0=$(start_ticks)
		peer[$m]+=" $(rate ba "$IPB")"
		us=$(per_conn "$b0")
		peer_us[$m]+=" $us"
		peer_stop
		[ "$m" = print ] && lines=$(grep -c ' tracepoint:' "$T/peer.out")
		echo "round $r: bpftrace $m ${peer[$m]##* }/s $us µs CPU/conn${lines:+ ($lines lines printed)}"
		lines=
	done
}
side_with() {
	daemon_stop
	daemon_start --state-dir "$STATE" --keep-pins --flow-idle 5 || exit 1
	b0=$(start_ticks) t0=$(cpu_ticks) s0=$(esize)
	with+=("$(rate wa "$IPW")")
	with_us+=("$(per_conn "$b0")")
	bytes+=("$(( ($(esize) - s0) / N ))")
	echo "round $r: with podsentryd ${with[-1]}/s ${with_us[-1]} µs CPU/conn  (daemon CPU $(( ($(cpu_ticks) - t0) * 1000 / $(getconf CLK_TCK) )) ms, ${bytes[-1]} B/conn)"
}
side_agg() {
	daemon_stop
	daemon_start --state-dir "$STATE" --keep-pins --flow-idle 5 --flow-aggregate 10 || exit 1
	b0=$(start_ticks) t0=$(cpu_ticks)
	agg+=("$(rate wa "$IPW")")
	agg_us+=("$(per_conn "$b0")")
	echo "round $r: with --flow-aggregate 10 ${agg[-1]}/s ${agg_us[-1]} µs CPU/conn (daemon CPU $(( ($(cpu_ticks) - t0) * 1000 / $(getconf CLK_TCK) )) ms)"
	sleep 7 # the interval's aggregates are written
	daemon_stop
}
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		side_bare; side_with; side_agg
	else
		side_agg; side_with; side_bare
	fi
done
sleep 3
daemon_stop
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# paired NAME: each round's NAME rate over the same round's bare rate:
# "median (min-max)", steadier than a ratio of medians on a shared VM
paired() {
	local -n side=$1
	local i
	for i in "${!side[@]}"; do echo "${side[$i]} ${bare[$i]}"; done |
		awk '{ print $1 / $2 }' | sort -n |
		awk '{ a[NR] = $1 } END { printf "%.3f (%.3f-%.3f)", a[int((NR + 1) / 2)], a[1], a[NR] }'
}
read -r total named <<<"$(jq -r 'select(.type=="flow" and .flow.final and .flow.protocol=="tcp"
	and (.flow.aggregate | not) and .flow.dst.port==7001) |
	(.flow.src.process != null and .flow.dst.process != null)' "$T/export.json" |
	awk '{ n++; if ($1 == "true") p++ } END { print n+0, p+0 }')"
folded=$(jq -s '[.[] | select(.type=="flow" and .flow.aggregate and .flow.dst.port==7001) | .flow.connections] | add // 0' "$T/export.json")
notices=$(jq -s '[.[] | select(.type=="stats")] | last | .stats.sockets.notices // 0' "$T/export.json")
lost=$(jq -s -r '[.[] | select(.type=="lost") | .lost] | group_by(.reason) |
	map("\(.[0].reason) \(map(.count) | add)") | join(", ") | if . == "" then "none" else . end' "$T/export.json")
awk -v b="$(median "${bare[@]}")" -v w="$(median "${with[@]}")" -v a="$(median "${agg[@]}")" -v n="$N" -v r="$ROUNDS" \
	-v t="$total" -v nm="$named" -v f="$folded" -v nt="$notices" -v by="$(median "${bytes[@]}")" \
	-v bu="$(median "${bare_us[@]}")" -v wu="$(median "${with_us[@]}")" -v au="$(median "${agg_us[@]}")" \
	-v spread="$(printf '%s\n' "${with[@]}" | sort -n | awk 'NR==1{lo=$1} {hi=$1} END {print lo "-" hi}')" \
	-v pw="$(paired with)" -v pa="$(paired agg)" 'BEGIN {
	printf "pod-to-pod connect/request/response/close: %d x %d rounds, median bare %.0f/s, with podsentryd %.0f/s (spread %s), aggregated %.0f/s\n", n, r, b, w, spread, a
	printf "ratio with/bare: %.3f (target >= 0.85, goal 0.95); aggregated/bare: %.3f (target >= 0.95)\n", w / b, a / b
	printf "paired (each round against its own bare run), median and spread: with/bare %s, aggregated/bare %s\n", pw, pa
	printf "busy CPU per connection: median bare %d us, with podsentryd %d us (+%d), aggregated %d us (+%d)\n", bu, wu, wu - bu, au, au - bu
	printf "JSON to the node export: %d B per connection (target <= 800)\n", by
	printf "attribution: %d of %d final flow records name both processes (%.4f); %d connections folded into aggregates; %d notices in all\n", nm, t, t ? nm / t : 0, f, nt
}'
echo "lost records in all runs (target none): $lost"
for m in "${PEERS[@]}"; do
	# shellcheck disable=SC2086 # the lists are space-separated numbers
	awk -v b="$(median "${bare[@]}")" -v p="$(median ${peer[$m]})" -v w="$(median "${with[@]}")" \
		-v bu="$(median "${bare_us[@]}")" -v pu="$(median ${peer_us[$m]})" -v m="$m" 'BEGIN {
		printf "peer, bpftrace %s: median %.0f/s, ratio %.3f (podsentryd/peer %.3f%s), busy CPU %d us/conn (ratio bare/peer %.3f)\n",
			m == "print" ? "printing each event" : "counting in a map", p, p / b, w / p,
			m == "count" ? ", target >= 0.97" : "", pu, pu ? bu / pu : 0
	}'
done

# Where the overhead goes: one more run with the kernel's BPF run-time
# statistics on (they add a clock read to every program run, so this run
# is not one of the rounds above), for the programs podsentryd holds,
# and the daemon's own CPU.
[ "${CRR_PROG_STATS:-1}" = 1 ] || exit 0
prog_stats() { # one JSON object per program podsentryd holds
	local id
	for id in $(grep -h '^prog_id:' /proc/"$DAEMON_PID"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un); do
		bpftool -j prog show id "$id" 2>/dev/null
	done | jq -c '{id, name, runs: (.run_cnt // 0), ns: (.run_time_ns // 0)}'
}
daemon_start --state-dir "$STATE" --keep-pins --flow-idle 5 || exit 1
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
prog_stats >"$T/stats0"
t0=$(cpu_ticks)
rate wa "$IPW" >/dev/null
prog_stats >"$T/stats1"
sysctl -qw kernel.bpf_stats_enabled="$stats_was"
sleep "$DRAIN"
echo "cost per connection, one run of $N with BPF statistics on:"
jq -s -r --argjson n "$N" 'group_by(.id) | map(select(length == 2) |
	{name: .[1].name, runs: (.[1].runs - .[0].runs), ns: (.[1].ns - .[0].ns)}) |
	map(select(.runs > 0)) | sort_by(-.ns) | (map(.ns) | add) as $all |
	(.[] | select(.ns / $n >= 50)),
	{name: "all programs", runs: 0, ns: $all} |
	"  \(.name | .[0:16])\(" " * (18 - (.name | .[0:16] | length)))" +
	(if .runs > 0 then "\(.runs / $n * 10 | round / 10) runs x \(.ns / .runs | round) ns = " else "" end) +
	"\(.ns / $n / 100 | round / 10) us"' "$T/stats0" "$T/stats1"
echo "  podsentryd        $(( ($(cpu_ticks) - t0) * 1000000 / $(getconf CLK_TCK) / N )) us (user + system, until its last record)"
