#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Pod-to-pod TCP stream throughput (iperf3, 3 s per run): pods made by
# [bridge, podsentry-cni] with podsentryd running (TC flow programs on
# both host veths) vs pods made by [bridge] alone, alternated in one run
# (which side goes first alternates too: this VM drifts within seconds).
# Reports the ratio of medians (target >= 0.97), and the busy CPU of the
# whole machine per GB carried on each side (bare/with): steadier than the
# rate on a shared VM, and what the programs cost wherever it is spent.
export PS_TEST_PREFIX=${PS_TEST_PREFIX:-btp$(printf '%04x' $((RANDOM)))}
export PS_TEST_TMP=/tmp/psbench-$PS_TEST_PREFIX
export PS_TEST_BPFFS=/sys/fs/bpf/psbench-$PS_TEST_PREFIX
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"
set -u
ROUNDS=${TP_ROUNDS:-6}
SECS=${TP_SECONDS:-3}

cleanup() {
	daemon_stop 2>/dev/null
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

daemon_start --state-dir "$STATE" || exit 1
cni_conflist && WITH=$T/with.conflist && mv "$CONFLIST" "$WITH"
NET=${P}bnet BR=${P}bx SUBNET_PFX=10.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))
SUBNET=$SUBNET_PFX.0/24
cni_conflist '{}' 0 && BARE=$T/bare.conflist && mv "$CONFLIST" "$BARE"
pod() { # NAME CONFLIST: prints the pod's IP
	local ns
	ns=$(netns_add "$1") || return 1
	CONFLIST=$2 cni_add "$ns" "$ns" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=$1" |
		jq -r '.ips[0].address' | cut -d/ -f1
}
IPW=$(pod wb "$WITH") && pod wa "$WITH" >/dev/null && IPB=$(pod bb "$BARE") && pod ba "$BARE" >/dev/null ||
	{ echo "pod_throughput: pod setup failed" >&2; exit 1; }
ip netns exec "${P}wb" iperf3 -s -p 5201 >/dev/null 2>&1 & SRV_W=$!
ip netns exec "${P}bb" iperf3 -s -p 5201 >/dev/null 2>&1 & SRV_B=$!
sleep 0.5

# busy CPU of the whole machine (user, nice, system, irq, softirq), ticks
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# run NETNS SERVER_IP: "Gbit/s CPU-ms-per-GB" of one iperf3 run
run() {
	local t0 gb
	t0=$(busy_ticks)
	gb=$(ip netns exec "$1" iperf3 -c "$2" -p 5201 -t "$SECS" -J 2>/dev/null |
		jq '.end.sum_received.bits_per_second / 1e9')
	awk -v g="$gb" -v t="$(( $(busy_ticks) - t0 ))" -v hz="$(getconf CLK_TCK)" -v s="$SECS" \
		'BEGIN { printf "%s %.1f\n", g, (g > 0 ? t * 1000 / hz / (g * s / 8) : 0) }'
}
bare=() with=() bare_cpu=() with_cpu=()
for r in $(seq "$ROUNDS"); do
	for side in $([ $((r % 2)) = 1 ] && echo bare with || echo with bare); do
		if [ "$side" = bare ]; then
			read -r g c <<<"$(run "${P}ba" "$IPB")"
			bare+=("$g") bare_cpu+=("$c")
		else
			read -r g c <<<"$(run "${P}wa" "$IPW")"
			with+=("$g") with_cpu+=("$c")
		fi
	done
	echo "round $r: bare ${bare[-1]} Gbit/s ${bare_cpu[-1]} CPU ms/GB  with podsentry ${with[-1]} Gbit/s ${with_cpu[-1]} CPU ms/GB"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mb=$(median "${bare[@]}") mw=$(median "${with[@]}")
cb=$(median "${bare_cpu[@]}") cw=$(median "${with_cpu[@]}")
flows=$(jq -c 'select(.type=="flow" and .flow.final and .flow.dst.port==5201)' "$T/export.json" | wc -l)
awk -v b="$mb" -v w="$mw" -v f="$flows" -v cb="$cb" -v cw="$cw" 'BEGIN {
	printf "pod-to-pod TCP stream: median bare %.2f Gbit/s, with podsentry %.2f Gbit/s\n", b, w
	printf "ratio with/bare: %.3f (target >= 0.97); flow records for the streams: %d\n", w / b, f
	printf "busy CPU per GB: median bare %.1f ms, with podsentry %.1f ms (ratio bare/with %.3f)\n", cb, cw, cw ? cb / cw : 0
}'
