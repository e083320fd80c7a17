#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# CNI latency: ADD and DEL of N pods (default 100) through [bridge] and
# through [bridge, podsentry-cni], interleaved in one run, with podsentryd
# running. Reports medians and p99 of each chain and of podsentry-cni's
# own exec (what it adds; target: median ADD < 10 ms).
set -u
export PS_ROOT=${PS_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
export PS_TEST_PREFIX=b$(printf '%04x' $((RANDOM)))lt
export PS_TEST_TMP=/tmp/psbench-$PS_TEST_PREFIX
export PS_TEST_BPFFS=/sys/fs/bpf/psbench-$PS_TEST_PREFIX
. "$PS_ROOT/tests/lib.sh"
. "$PS_ROOT/tests/cni/lib-cni.sh"
N=${CNI_BENCH_PODS:-100}

cleanup() {
	daemon_stop >/dev/null 2>&1
	for ns in $(ip netns list | awk '{print $1}' | grep "^$P"); do ip netns del "$ns"; done
	ip link del "$BR" 2>/dev/null
	rm -rf "$T" "$BPFFS"
}
trap cleanup EXIT
daemon_start --state-dir "$STATE" || exit 1

cni_conflist '{}' 0; cp "$CONFLIST" "$T/bare.conflist"
cni_conflist;        cp "$CONFLIST" "$T/ps.conflist"

now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }

# run_timed CMD TYPE CONF_JSON CID NETNS: stdout of the plugin in $OUT,
# elapsed microseconds in $US
run_timed() {
	local t0 t1
	t0=${EPOCHREALTIME/./}
	OUT=$(cni_exec "$1" "$2" "$4" "$5" eth0 "IgnoreUnknown=1;K8S_POD_NAME=$4" <<<"$3")
	local rc=$?
	t1=${EPOCHREALTIME/./}
	US=$((t1 - t0))
	return $rc
}

declare -a bare_add bare_del ps_add ps_del own_add own_del
for i in $(seq 1 "$N"); do
	for kind in bare ps; do
		ns=$P$kind$i cid=$P$kind$i
		ip netns add "$ns"
		CONFLIST=$T/$kind.conflist
		c0=$(cni_plugin_conf 0)
		run_timed ADD bridge "$c0" "$cid" "/run/netns/$ns" || { echo "bridge ADD: $OUT" >&2; exit 1; }
		add=$US prev=$OUT
		if [ $kind = ps ]; then
			c1=$(jq -c --argjson p "$prev" '.plugins[1] + {name, cniVersion, prevResult: $p}' "$CONFLIST")
			run_timed ADD podsentry-cni "$c1" "$cid" "/run/netns/$ns" || { echo "podsentry-cni ADD: $OUT" >&2; exit 1; }
			own_add+=("$US"); add=$((add + US))
			run_timed DEL podsentry-cni "$c1" "$cid" "/run/netns/$ns" || { echo "podsentry-cni DEL: $OUT" >&2; exit 1; }
			own_del+=("$US"); del=$US
			ps_add+=("$add")
		else
			bare_add+=("$add"); del=0
		fi
		c0=$(jq -c --argjson p "$prev" '.plugins[0] + {name, cniVersion, prevResult: $p}' "$CONFLIST")
		run_timed DEL bridge "$c0" "$cid" "/run/netns/$ns" || { echo "bridge DEL: $OUT" >&2; exit 1; }
		del=$((del + US))
		if [ $kind = ps ]; then ps_del+=("$del"); else bare_del+=("$del"); fi
		ip netns del "$ns"
	done
done
left=$(ls "$STATE"/*.json 2>/dev/null | wc -l)

# stats NAME VALUES...: median and p99 in ms
stats() {
	local name=$1; shift
	printf '%s\n' "$@" | sort -n | awk -v name="$name" '
		{ v[NR] = $1 }
		END { m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.99 + 0.999)];
		      printf "  %-34s median %7.2f ms   p99 %7.2f ms\n", name, m / 1000, p / 1000 }'
}
echo "CNI latency over $N pods (podsentryd running, state files left: $left)"
stats "[bridge] ADD" "${bare_add[@]}"
stats "[bridge, podsentry-cni] ADD" "${ps_add[@]}"
stats "podsentry-cni ADD alone" "${own_add[@]}"
stats "[bridge] DEL" "${bare_del[@]}"
stats "[bridge, podsentry-cni] DEL" "${ps_del[@]}"
stats "podsentry-cni DEL alone" "${own_del[@]}"
med=$(printf '%s\n' "${own_add[@]}" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
if [ "$med" -lt 10000 ] && [ "$left" = 0 ]; then
	echo "  podsentry-cni median ADD $((med / 1000)).$(((med % 1000) / 10)) ms < 10 ms: ok"
else
	echo "  podsentry-cni median ADD $((med / 1000)) ms (target < 10 ms) or state left: FAIL"
	exit 1
fi
