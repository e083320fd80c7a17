#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# What kubelet does: many pods added at once, then deleted at once. The
# state lock must keep slots unique and leave nothing behind.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-cni.sh"

N=${PODS:-20}
trap 'daemon_stop >/dev/null 2>&1' EXIT
if ! daemon_start --state-dir "$STATE"; then
	fail daemon_start "podsentryd did not start"
	exit 1
fi
cni_conflist
for i in $(seq 1 $N); do netns_add "p$i" >/dev/null; done

# (wait for these jobs only: podsentryd is a background job too)
pids=()
for i in $(seq 1 $N); do
	cni_add "${P}c$i" "${P}p$i" eth0 "IgnoreUnknown=1;K8S_POD_NAME=pod-$i" \
		> "$T/add-$i.out" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
failed=0
for i in $(seq 1 $N); do
	[ -s "$CNI_CACHE/${P}c$i-eth0.json" ] || { failed=$((failed + 1)); cat "$T/add-$i.out" >&2; }
done
slots=$(cat "$STATE"/*.json 2>/dev/null | jq -s 'map(.slot) | unique | length')
filters=0
for i in $(seq 1 $N); do
	v=$(host_veth "${P}p$i")
	tc_has_ours "$v" ingress && tc_has_ours "$v" egress && filters=$((filters + 1))
done
if [ $failed = 0 ] && [ "$slots" = "$N" ] && [ "$(map_count pods)" = "$N" ] &&
	[ "$(map_count pod_ifindex)" = "$N" ] && [ "$(map_count pod_ip)" = "$N" ] &&
	[ $filters = "$N" ]; then
	ok parallel_add
else
	fail parallel_add "failed=$failed distinct slots=$slots pods=$(map_count pods) pod_ifindex=$(map_count pod_ifindex) pod_ip=$(map_count pod_ip) veths with filters=$filters"
fi

# podsentry-cni's DEL for all pods at once, while the veths still exist,
# then the whole chain's DEL at once
pids=()
for i in $(seq 1 $N); do
	podsentry_run DEL "${P}c$i" "/run/netns/${P}p$i" eth0 \
		"$(cni_plugin_conf 1 "$CNI_CACHE/${P}c$i-eth0.json")" >/dev/null &
	pids+=($!)
done
wait "${pids[@]}"
left=0
for i in $(seq 1 $N); do
	v=$(host_veth "${P}p$i")
	tc filter show dev "$v" ingress | grep -q 0x5053 && left=$((left + 1))
	tc filter show dev "$v" egress | grep -q 0x5053 && left=$((left + 1))
done
pids=()
for i in $(seq 1 $N); do
	cni_del "${P}c$i" "${P}p$i" > "$T/del-$i.out" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
failed=0
for i in $(seq 1 $N); do
	[ -e "$CNI_CACHE/${P}c$i-eth0.json" ] && { failed=$((failed + 1)); cat "$T/del-$i.out" >&2; }
done
states=$(ls "$STATE"/*.json 2>/dev/null | wc -l)
if [ $failed = 0 ] && [ $left = 0 ] && [ "$states" = 0 ] && [ "$(map_count pods)" = 0 ] &&
	[ "$(map_count pod_ifindex)" = 0 ] && [ "$(map_count pod_ip)" = 0 ] &&
	[ "$(pod_stats_used)" = 0 ]; then
	ok parallel_del_leaves_nothing
else
	fail parallel_del_leaves_nothing "failed=$failed filters left=$left states=$states pods=$(map_count pods) pod_ifindex=$(map_count pod_ifindex) pod_ip=$(map_count pod_ip) pod_stats used=$(pod_stats_used)"
fi
grep -c "ADD container=${P}c.* result=ok" "$T/cni.log" | grep -qx "$N" &&
	grep -c "DEL container=${P}c.* result=ok" "$T/cni.log" | grep -qx "$((2 * N))"
check one_log_line_per_command test $? = 0
daemon_stop
