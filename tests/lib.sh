# SPDX-License-Identifier: GPL-2.0-only
# Helpers for shell tests run by tests/run.sh. Source it first:
#   . tests/lib.sh
# Reports: ok NAME / fail NAME WHY / skip NAME WHY (one line per subtest).
# Everything the test creates is named with $P (netns, links, bridges,
# networks, containers), lives in $T or under $BPFFS, and is removed by
# the runner before and after the test.

set -u
: "${PS_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${PS_BUILD:=$PS_ROOT/build}"
: "${PS_TEST_PREFIX:=tman$$}"
: "${PS_TEST_TMP:=/tmp/podsentry-test/$PS_TEST_PREFIX}"
: "${PS_TEST_BPFFS:=/sys/fs/bpf/pstest-$PS_TEST_PREFIX}"
P=$PS_TEST_PREFIX
T=$PS_TEST_TMP
BPFFS=$PS_TEST_BPFFS
B=$PS_BUILD
PODSENTRYD=${PODSENTRYD:-$B/podsentryd}
PODSENTRY_CNI=${PODSENTRY_CNI:-$B/podsentry-cni}
PODSENTRY=${PODSENTRY:-$B/podsentry}
mkdir -p "$T"
# a test that ends early does not leave its daemon running
trap '[ -n "${DAEMON_PID:-}" ] && kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null' EXIT

ok() { echo "ok $1"; }
fail() { echo "not ok $1: ${*:2}"; echo "FAIL $1: ${*:2}" >&2; }
skip() { echo "skip $1: ${*:2}"; }

# check NAME CMD...: ok when CMD succeeds
check() {
	local name=$1; shift
	if "$@"; then ok "$name"; else fail "$name" "$*"; fi
}

# wait_for SECONDS CMD...: poll CMD every 50 ms until it succeeds
wait_for() {
	local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
	until "$@" 2>/dev/null; do
		[ "$(date +%s%N)" -gt $deadline ] && return 1
		sleep 0.05
	done
}

# netns_add NAME: a network namespace $P$NAME with lo up; prints its name
netns_add() {
	local ns=$P$1
	ip netns add "$ns" && ip -n "$ns" link set lo up && echo "$ns"
}

netns_ino() { stat -L -c %i "/run/netns/$1"; }

# daemon_start [ARGS...]: start podsentryd on $BPFFS exporting to
# $T/export.json (unless --export is given), its API on $T/api.sock
# (unless --socket is given); waits until it is ready.
# Sets DAEMON_PID; the daemon's stderr goes to $T/daemon.log.
daemon_start() {
	local export=(--export "$T/export.json") state=(--state-file "$T/detect-state.json") a ready
	local sock=(--socket "$T/api.sock")
	for a in "$@"; do
		[ "$a" = --export ] && export=()
		[ "$a" = --state-file ] && state=()
		[ "$a" = --socket ] && sock=()
	done
	ready=$(grep -c 'podsentryd: ready' "$T/daemon.log" 2>/dev/null)
	"$PODSENTRYD" --bpffs "$BPFFS" "${export[@]}" "${state[@]}" "${sock[@]}" "$@" 2>>"$T/daemon.log" \
		>>"$T/daemon.stdout" &
	DAEMON_PID=$!
	if ! _daemon_wait_ready "${ready:-0}"; then
		echo "podsentryd did not become ready:" >&2
		cat "$T/daemon.log" >&2
		return 1
	fi
}

# ready when a new "ready" line appears; gives up when the daemon died
_daemon_wait_ready() {
	local i n
	for i in $(seq 400); do
		n=$(grep -c 'podsentryd: ready' "$T/daemon.log" 2>/dev/null)
		[ "${n:-0}" -gt "$1" ] && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# daemon_stop: SIGTERM and wait; returns the daemon's exit status
daemon_stop() {
	[ -n "${DAEMON_PID:-}" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID"
	local rc=$?
	DAEMON_PID=
	return $rc
}

# pod_register NETNS_NAME SLOT: put a netns in the pinned pods map the way
# podsentry-cni does (key: netns inode, value: {slot, flags=monitor})
pod_register() {
	local ino slot=$2
	ino=$(netns_ino "$1")
	bpftool map update pinned "$BPFFS/pods" \
		key $(u32_bytes "$ino") value $(u32_bytes "$slot") $(u32_bytes 1)
}

# u32_bytes N: N as 4 little-endian bytes for bpftool
u32_bytes() {
	local n=$1
	printf '%d %d %d %d' $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24 & 255))
}

# records TYPE [FILE]: the JSON records of one type, one per line
records() { jq -c --arg t "$1" 'select(.type == $t)' "${2:-$T/export.json}"; }

# has_record FILTER [FILE]: some record of FILE satisfies the jq FILTER
# (jq 1.6 -e judges only the last input, so it cannot be used for this)
has_record() { [ -n "$(jq -c "select($1)" "${2:-$T/export.json}" 2>/dev/null | head -n 1)" ]; }
# map_info MAP FIELD: a field of bpftool's view of the pinned map MAP
# (max_entries, id, bytes_value...)
map_info() { bpftool -j map show pinned "$BPFFS/$1" 2>/dev/null | jq ".$2"; }
