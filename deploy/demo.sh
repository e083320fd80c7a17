#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# podsentry demo: podsentryd traces the processes of a pod (a network
# namespace registered the way podsentry-cni registers pods), prints their
# records, and cleans up everything it made.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$ROOT/build}
ID=$$
NS=psdemo$ID
BPFFS=/sys/fs/bpf/podsentry-demo-$ID
OUT=${DEMO_OUT:-/tmp/podsentry-demo}
DPID=

[ "$(id -u)" = 0 ] || { echo "demo: run as root (it loads BPF programs)" >&2; exit 1; }
cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$BPFFS"
}
trap cleanup EXIT
mkdir -p "$OUT"
rm -f "$OUT/events.json"

echo "== starting podsentryd (bpffs $BPFFS)"
"$B/podsentryd" --bpffs "$BPFFS" --export "$OUT/events.json" --node-name demo-node \
	2>"$OUT/podsentryd.log" &
DPID=$!
for _ in $(seq 100); do
	grep -q 'podsentryd: ready' "$OUT/podsentryd.log" && break
	kill -0 $DPID 2>/dev/null || { cat "$OUT/podsentryd.log"; exit 1; }
	sleep 0.05
done

echo "== pod $NS: a network namespace registered in the pinned pods map"
ip netns add "$NS"
ino=$(stat -L -c %i "/run/netns/$NS")
b() { local n=$1; printf '%d %d %d %d' $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24 & 255)); }
bpftool map update pinned "$BPFFS/pods" key $(b "$ino") value $(b 1) $(b 1)

echo "== running commands in the pod, and one outside it (not reported)"
ip netns exec "$NS" /bin/sh -c 'cd /tmp && ls / >/dev/null; /bin/sleep 0.1; exit 3'
ip netns exec "$NS" /bin/sh -c 'exec /bin/cat /etc/hostname' >/dev/null
/bin/sh -c 'echo outside >/dev/null'
sleep 0.3
kill -TERM $DPID; wait $DPID; DPID=

echo "== records of the pod (compact)"
jq -r 'select(.type=="process_exec" or .type=="process_exit") |
	"\(.time[11:23])  \(.type | .[8:] | (. + "    ")[:5]) pid \(.process.pid)  \(.process.binary)  \(.process.args | join(" "))" +
	(if .type=="process_exit" then "  → exit \(.exit_code)" else "  (parent \(.parent.binary // "?"))" end)' "$OUT/events.json"
echo
echo "== one record in full"
jq 'select(.type=="process_exec" and .process.binary=="/bin/sleep")' "$OUT/events.json"
echo
echo "All records: $OUT/events.json   daemon log: $OUT/podsentryd.log"
