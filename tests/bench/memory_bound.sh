#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The daemon's memory bound: podsentryd with two pods made by [bridge,
# podsentry-cni], 10 000 live processes exec'd in one of them (sleeping)
# and 100 000 real TCP connections between them (connect, request,
# response, close) and UDP datagrams, all while the processes live. It
# prints the daemon's VmHWM and VmRSS (/proc/PID/status) against the
# target of 32 MiB, with the RSS of the same daemon idle with no pods
# measured first in the same run as the baseline. Then the processes
# exit and the pods go: the tables of the stats record (process cache,
# detection's processes and pods) must fall back once the grace periods
# pass, and the RSS stay bounded. Knobs: MEM_PROCS, MEM_FLOWS,
# MEM_REAP_S (how long to wait for the reaping, default 200 s: the
# process cache keeps an exit 60 s, detection 120 s and the chain window).
export PS_TEST_PREFIX=${PS_TEST_PREFIX:-bmb$(printf '%04x' $((RANDOM)))}
export PS_TEST_TMP=/tmp/psbench-$PS_TEST_PREFIX
export PS_TEST_BPFFS=/sys/fs/bpf/psbench-$PS_TEST_PREFIX
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"
set -u
CRR=$B/bench/crr
NPROCS=${MEM_PROCS:-10000}
NFLOWS=${MEM_FLOWS:-100000}
REAP_S=${MEM_REAP_S:-200}
TARGET_KIB=$((32 * 1024))
SLEEPER=$T/sleepers.py

cleanup() {
	[ -n "${HOLDER:-}" ] && kill -TERM -- "-$HOLDER" 2>/dev/null
	[ -n "${SRV:-}" ] && kill "$SRV" "$USRV" 2>/dev/null
	daemon_stop 2>/dev/null
	if [ -n "${PODS_UP:-}" ]; then
		cni_del "${P}ma" "${P}ma" >/dev/null 2>&1
		cni_del "${P}mb" "${P}mb" >/dev/null 2>&1
	fi
	for ns in ma mb; do ip netns del "$P$ns" 2>/dev/null; done
	ip link del "${P}br" 2>/dev/null
	rm -rf "$T" "$BPFFS"
}
trap cleanup EXIT

kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$DAEMON_PID/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# the tables of the last stats record
tables() {
	jq -c 'select(.type=="stats") | .stats.tables' "$T/export.json" | tail -n 1
}
live_sleepers() { pgrep -c -f "^sleep 3600$PS_TEST_PREFIX" || true; }

ulimit -n 65536 2>/dev/null
daemon_start --state-dir "$STATE" --stats-interval 1 || exit 1
# the baseline: the same daemon, idle, no pods
sleep 3
base_rss=$(kib VmRSS) base_hwm=$(kib VmHWM)
echo "idle, no pods: VmRSS $(mib "$base_rss") MiB, VmHWM $(mib "$base_hwm") MiB"

cni_conflist || exit 1
pod() {
	local ns
	ns=$(netns_add "$1") || return 1
	cni_add "$ns" "$ns" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=$1" |
		jq -r '.ips[0].address' | cut -d/ -f1
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1
}
IPB=$(pod mb) && pod ma >/dev/null && PODS_UP=1 || { echo "memory_bound: pod setup failed" >&2; exit 1; }

# NPROCS sleeping processes in pod ma, each its own spawn (fork and
# exec); their argv names this run (pgrep counts them), a session of
# their own (one kill ends them all)
cat >"$SLEEPER" <<EOF
import os, shutil
sleep = shutil.which("sleep")
for i in range($NPROCS):
    os.posix_spawn(sleep, ["sleep 3600$PS_TEST_PREFIX", "3600"], os.environ)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
EOF
t0=$(date +%s)
setsid ip netns exec "${P}ma" python3 "$SLEEPER" >/dev/null 2>&1 &
HOLDER=$!
for _ in $(seq 600); do
	[ "$(live_sleepers)" -ge "$NPROCS" ] && break
	sleep 0.5
done
echo "live processes in the pod: $(live_sleepers) (of $NPROCS) after $(( $(date +%s) - t0 )) s"

# NFLOWS TCP connections from pod ma to pod mb, and UDP datagrams
ip netns exec "${P}mb" "$CRR" server 7001 2 & SRV=$!
ip netns exec "${P}mb" "$CRR" udp-sink 7002 & USRV=$!
sleep 0.5
t0=$(date +%s)
ip netns exec "${P}ma" "$CRR" client "$IPB" 7001 "$NFLOWS" 2 | sed 's/^/tcp: /'
ip netns exec "${P}ma" "$CRR" udp "$IPB" 7002 1000 | sed 's/^/udp: /'
echo "flows made in $(( $(date +%s) - t0 )) s"
sleep 6 # the last ends written (linger, idle sweep)
hwm=$(kib VmHWM) rss=$(kib VmRSS)
ended=$(jq -s '[.[] | select(.type=="flow")] | length' "$T/export.json")
execs=$(jq -s '[.[] | select(.type=="process_exec" and (.process.args[0] // "" | startswith("sleep 3600")))] | length' \
	"$T/export.json")
echo "records: $execs process_exec of the sleepers, $ended flow records"
echo "tables under load: $(tables)"
verdict() { [ "$1" -le "$TARGET_KIB" ] && echo PASS || echo FAIL; }
echo "daemon VmHWM: $(mib "$hwm") MiB (target <= 32 MiB: $(verdict "$hwm"))"
echo "daemon VmRSS: $(mib "$rss") MiB (target <= 32 MiB: $(verdict "$rss"))"
echo "baseline (idle, no pods): VmRSS $(mib "$base_rss") MiB; growth under load $(mib $((rss - base_rss))) MiB"

# the processes exit, the pods go: the tables fall back
kill -TERM -- "-$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
HOLDER=
kill "$SRV" "$USRV" 2>/dev/null
wait "$SRV" "$USRV" 2>/dev/null
SRV=
cni_del "${P}ma" "${P}ma" >/dev/null && cni_del "${P}mb" "${P}mb" >/dev/null && PODS_UP=
for ns in ma mb; do ip netns del "$P$ns" 2>/dev/null; done
t0=$(date +%s)
procs=
while [ $(( $(date +%s) - t0 )) -lt "$REAP_S" ]; do
	sleep 5
	procs=$(tables | jq -r '.processes // empty')
	dprocs=$(tables | jq -r '.detect_processes // empty')
	[ -n "$procs" ] && [ "$procs" -lt 1000 ] && [ "$dprocs" -lt 100 ] && break
done
after=$(kib VmRSS)
echo "after the exits and the DELs ($(( $(date +%s) - t0 )) s): tables $(tables), VmRSS $(mib "$after") MiB"
status=0
procs=$(tables | jq -r '.processes // 999999')
dprocs=$(tables | jq -r '.detect_processes // 999999')
if [ "$procs" -lt 1000 ] && [ "$dprocs" -lt 100 ] && [ "$after" -le "$TARGET_KIB" ]; then
	echo "reaped: PASS (process cache $procs, detection $dprocs processes, VmRSS $(mib "$after") MiB)"
else
	echo "reaped: FAIL (process cache $procs, detection $dprocs processes, VmRSS $(mib "$after") MiB)"
	status=1
fi
[ "$hwm" -le "$TARGET_KIB" ] && [ "$rss" -le "$TARGET_KIB" ] || status=1
exit $status
