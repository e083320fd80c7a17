#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Pod-to-pod TCP stream throughput (iperf3, 3 s per run): pods made by
# [bridge, podsentry-cni] with podsentryd running (TC flow programs on
# both host veths) vs pods made by [bridge] alone, alternated in one run
# (which side goes first alternates too: this VM drifts within seconds).
# Reports the ratio of medians (target >= 0.97).
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

gbps() { # NETNS SERVER_IP
	ip netns exec "$1" iperf3 -c "$2" -p 5201 -t "$SECS" -J 2>/dev/null |
		jq '.end.sum_received.bits_per_second / 1e9'
}
bare=() with=()
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		bare+=("$(gbps "${P}ba" "$IPB")")
		with+=("$(gbps "${P}wa" "$IPW")")
	else
		with+=("$(gbps "${P}wa" "$IPW")")
		bare+=("$(gbps "${P}ba" "$IPB")")
	fi
	echo "round $r: bare ${bare[-1]} Gbit/s  with podsentry ${with[-1]} Gbit/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mb=$(median "${bare[@]}") mw=$(median "${with[@]}")
flows=$(jq -c 'select(.type=="flow" and .flow.final and .flow.dst.port==5201)' "$T/export.json" | wc -l)
awk -v b="$mb" -v w="$mw" -v f="$flows" 'BEGIN {
	printf "pod-to-pod TCP stream: median bare %.2f Gbit/s, with podsentry %.2f Gbit/s\n", b, w
	printf "ratio with/bare: %.3f (target >= 0.97); flow records for the streams: %d\n", w / b, f
}'
