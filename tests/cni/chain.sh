#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# podsentry-cni chained after the reference bridge + host-local plugins,
# run exactly as a runtime runs a conflist, with podsentryd's pins: ADD
# output, filters, maps, state, traffic counting, CHECK, repeated ADD,
# DEL (also twice and after the netns is gone), GC, errors and log lines.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-cni.sh"

trap 'daemon_stop >/dev/null 2>&1' EXIT
if ! daemon_start --state-dir "$STATE"; then
	fail daemon_start "podsentryd did not start (see $T/daemon.log)"
	exit 1
fi
cni_conflist

a=$(netns_add a) b=$(netns_add b)
A_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-a;K8S_POD_INFRA_CONTAINER_ID=${P}ca;K8S_POD_UID=uid-a"

# ---- ADD ----
if out=$(cni_add "${P}ca" "$a" eth0 "$A_ARGS"); then
	prev=$CNI_CACHE/${P}ca-eth0.0.json   # what bridge printed
	if [ "$(jq -S . <<<"$out")" = "$(jq -S . "$prev")" ]; then
		ok add_output_is_prev_result
	else
		fail add_output_is_prev_result "got $out, bridge printed $(cat "$prev")"
	fi
else
	fail add_output_is_prev_result "ADD failed: $out"
	exit 1
fi
cni_add "${P}cb" "$b" eth0 "IgnoreUnknown=1;K8S_POD_NAME=web-b" >/dev/null ||
	fail add_b "ADD of the second pod failed"

va=$(host_veth "$a") vb=$(host_veth "$b")
ia=$(host_ifindex "$va")
ino_a=$(netns_ino "$a") ino_b=$(netns_ino "$b")
ip_a=$(jq -r '.ips[0].address' "$CNI_CACHE/${P}ca-eth0.json" | cut -d/ -f1)
ip_b=$(jq -r '.ips[0].address' "$CNI_CACHE/${P}cb-eth0.json" | cut -d/ -f1)

if tc_has_ours "$va" ingress && tc_has_ours "$va" egress; then
	ok tc_filters_on_host_veth
else
	fail tc_filters_on_host_veth "$(tc filter show dev "$va" ingress; tc filter show dev "$va" egress)"
fi

sf=$(state_file "${P}ca")
if [ -f "$sf" ] &&
	jqe --arg v "$va" --argjson ino "$ino_a" --arg ip "$ip_a/24" --arg c "${P}ca" '
	.containerId == $c and .ifname == "eth0" and .pod.namespace == "prod" and
	.pod.name == "web-a" and .pod.uid == "uid-a" and .hostIfname == $v and
	.netnsIno == $ino and .ips == [$ip] and .pending == false and
	.attached.tcIngress and .attached.tcEgress and (.slot >= 1)' < "$sf"; then
	ok state_file
else
	fail state_file "$(cat "$sf" 2>&1)"
fi
slot_a=$(jq .slot "$sf")
slot_b=$(jq .slot "$(state_file "${P}cb")")

pods_val=$(bpftool -j map lookup pinned "$BPFFS/pods" key $(u32_bytes "$ino_a") 2>/dev/null | jq -c '.formatted.value // .value')
if [ "$(jq .slot <<<"$pods_val" 2>/dev/null)" = "$slot_a" ] &&
	map_has pod_ifindex "$(u32_bytes "$ia")" &&
	[ "$(ifindex_low "$ia")" = "$slot_a $ino_a" ] &&
	map_has pod_ip "$(ip_key_bytes "$ip_a")" && [ "$slot_a" != "$slot_b" ]; then
	ok maps_hold_pod
else
	fail maps_hold_pod "pods[$ino_a]=$pods_val slot=$slot_a/$slot_b pod_ifindex_low[$ia]=$(ifindex_low "$ia"); $(bpftool map dump pinned "$BPFFS/pod_ifindex")"
fi

# ---- traffic between the two pods is counted on both ----
ip netns exec "$a" busybox ping -c 5 -W 1 "$ip_b" >/dev/null 2>&1 ||
	echo "ping $ip_b from $a failed" >&2
ao=$(pod_stats_sum "$slot_a" packets_out) bi=$(pod_stats_sum "$slot_b" packets_in)
ab=$(pod_stats_sum "$slot_a" bytes_out)
if [ "$ao" -ge 5 ] && [ "$bi" -ge 5 ] && [ "$ab" -ge $((5 * 84)) ]; then
	ok traffic_counted
else
	fail traffic_counted "pod a packets_out=$ao bytes_out=$ab, pod b packets_in=$bi"
fi

# ---- CHECK ----
check check_passes cni_check "${P}ca" "$a"
tc filter del dev "$va" ingress pref 20563 handle 0x5053 bpf 2>/dev/null
if out=$(cni_check "${P}ca" "$a"); then
	fail check_fails_without_filter "CHECK passed with the ingress filter removed"
elif jqe --arg v "$va" '.code == 102 and (.msg | contains("tc ingress filter on " + $v)) and
	(.msg | contains("missing"))' <<<"$out"; then
	ok check_fails_without_filter
else
	fail check_fails_without_filter "unexpected error: $out"
fi

# ---- repeated ADD replaces, never duplicates ----
# (podsentry-cni again with the same prevResult: bridge itself refuses a
# second ADD of an existing interface)
podsentry_run ADD "${P}ca" "/run/netns/$a" eth0 \
	"$(cni_plugin_conf 1 "$CNI_CACHE/${P}ca-eth0.0.json")" "$A_ARGS" >/dev/null
n_in=$(tc filter show dev "$va" ingress | grep -c 'handle 0x5053')
n_state=$(ls "$STATE"/*.json | wc -l)
if [ "$n_in" = 1 ] && [ "$(map_count pods)" = 2 ] && [ "$n_state" = 2 ] &&
	[ "$(jq .slot "$sf")" = "$slot_a" ] && cni_check "${P}ca" "$a" >/dev/null; then
	ok add_again_replaces
else
	fail add_again_replaces "ingress filters=$n_in pods=$(map_count pods) states=$n_state slot=$(jq .slot "$sf")"
fi

# ---- DEL: podsentry-cni first (as in a chain), then bridge ----
cfg=$(cni_plugin_conf 1 "$CNI_CACHE/${P}ca-eth0.json")
if podsentry_run DEL "${P}ca" "/run/netns/$a" eth0 "$cfg" >/dev/null &&
	! tc filter show dev "$va" ingress | grep -q 0x5053 &&
	! tc filter show dev "$va" egress | grep -q 0x5053 &&
	[ ! -e "$sf" ] && ! map_has pods "$(u32_bytes "$ino_a")" &&
	! map_has pod_ifindex "$(u32_bytes "$ia")" &&
	[ "$(ifindex_low "$ia")" = "0 0" ] &&
	! map_has pod_ip "$(ip_key_bytes "$ip_a")" &&
	pod_stats_zero "$slot_a"; then
	ok del_removes_everything
else
	fail del_removes_everything "filters: $(tc filter show dev "$va" ingress) state: $(ls "$STATE") pods: $(map_count pods) pod_ifindex_low[$ia]=$(ifindex_low "$ia")"
fi
check del_chain cni_del "${P}ca" "$a"
check del_twice cni_del "${P}ca" "$a"
# without prevResult or netns at all
check del_without_prev_or_netns podsentry_run DEL "${P}ca" "" eth0 \
	"$(jq -c '.plugins[1] + {name: .name, cniVersion: .cniVersion}' "$CONFLIST")"

# ---- DEL after the netns is gone ----
ip netns del "$b"
if cni_del "${P}cb" "$b" >/dev/null && [ ! -e "$(state_file "${P}cb")" ] &&
	! map_has pods "$(u32_bytes "$ino_b")" && [ "$(map_count pod_ifindex)" = 0 ] &&
	[ "$(map_count pod_ip)" = 0 ]; then
	ok del_after_netns_deleted
else
	fail del_after_netns_deleted "state: $(ls "$STATE"); pods=$(map_count pods) pod_ifindex=$(map_count pod_ifindex) pod_ip=$(map_count pod_ip)"
fi

# ---- GC removes attachments that are not valid any more ----
c=$(netns_add c) d=$(netns_add d)
cni_add "${P}cc" "$c" >/dev/null && cni_add "${P}cd" "$d" >/dev/null
vc=$(host_veth "$c") ino_c=$(netns_ino "$c")
if cni_gc "[{\"containerID\":\"${P}cd\",\"ifname\":\"eth0\"}]" >/dev/null &&
	[ ! -e "$(state_file "${P}cc")" ] && [ -e "$(state_file "${P}cd")" ] &&
	! map_has pods "$(u32_bytes "$ino_c")" && ! tc_has_ours "$vc" ingress &&
	cni_check "${P}cd" "$d" >/dev/null; then
	ok gc_removes_stale
else
	fail gc_removes_stale "state: $(ls "$STATE"); filters on $vc: $(tc filter show dev "$vc" ingress)"
fi
# GC keeps another network's attachments
jq '.name += "x"' "$CONFLIST" > "$T/other.conflist"
if CONFLIST=$T/other.conflist cni_gc '[]' >/dev/null && [ -e "$(state_file "${P}cd")" ]; then
	ok gc_only_own_network
else
	fail gc_only_own_network "GC of another network removed ${P}cd"
fi
cni_del "${P}cc" "$c" >/dev/null; cni_del "${P}cd" "$d" >/dev/null

# ---- xdp and enforce: the XDP program on the veth, the flags in pods ----
cni_conflist '{"xdp":true,"enforce":true}'
x=$(netns_add x)
cni_add "${P}cx" "$x" >/dev/null
vx=$(host_veth "$x")
xflags=$(bpftool -j map lookup pinned "$BPFFS/pods" key $(u32_bytes "$(netns_ino "$x")") 2>/dev/null |
	jq '(.formatted.value // .value).flags')
if ip -d link show dev "$vx" | grep -q 'prog/xdp id' && [ "$xflags" = 7 ] &&
	jqe '.attached.xdp' < "$(state_file "${P}cx")" && cni_check "${P}cx" "$x" >/dev/null; then
	ok xdp_and_enforce
else
	fail xdp_and_enforce "flags=$xflags $(ip -d link show dev "$vx" | grep -i xdp)"
fi
podsentry_run DEL "${P}cx" "/run/netns/$x" eth0 "$(cni_plugin_conf 1 "$CNI_CACHE/${P}cx-eth0.json")" >/dev/null
if ! ip -d link show dev "$vx" | grep -q 'prog/xdp'; then
	ok del_removes_xdp
else
	fail del_removes_xdp "$(ip -d link show dev "$vx" | grep -i xdp)"
fi
cni_del "${P}cx" "$x" >/dev/null
# an XDP program of someone else on the veth stays after DEL
cni_add "${P}cx" "$x" >/dev/null
vx=$(host_veth "$x")
# (iproute2 makes its pin folders tc/, ip and xdp in the bpffs root when
# they are missing: taken away again below when this test made them)
[ -e /sys/fs/bpf/tc ] && had_tc=1 || had_tc=
ip -force link set dev "$vx" xdp obj "$B/bench.bpf.o" sec xdp >"$T/foreign.log" 2>&1
xdp_name() { # the name of the XDP program on $vx, or nothing
	local id
	id=$(bpftool -j net show dev "$vx" 2>/dev/null | jq -r '.[0].xdp[0].id // empty')
	[ -n "$id" ] && bpftool -j prog show id "$id" 2>/dev/null | jq -r '.name'
}
foreign=$(xdp_name)
podsentry_run DEL "${P}cx" "/run/netns/$x" eth0 "$(cni_plugin_conf 1 "$CNI_CACHE/${P}cx-eth0.json")" >/dev/null
left=$(xdp_name)
if [ "$foreign" = xdp_nop ] && [ "$left" = xdp_nop ]; then
	ok del_leaves_foreign_xdp
else
	fail del_leaves_foreign_xdp "before DEL '$foreign', after '$left' (want xdp_nop) $(head -c 300 "$T/foreign.log")"
fi
ip link set dev "$vx" xdp off 2>/dev/null
if [ -z "$had_tc" ]; then
	rmdir /sys/fs/bpf/tc/globals /sys/fs/bpf/tc 2>/dev/null &&
		rm -f /sys/fs/bpf/ip /sys/fs/bpf/xdp
fi
cni_del "${P}cx" "$x" >/dev/null
cni_conflist

# ---- IPs from the link when prevResult names none for CNI_IFNAME ----
y=$(netns_add y)
cni_add "${P}cy" "$y" >/dev/null
ip_y=$(jq -r '.ips[0].address' "$CNI_CACHE/${P}cy-eth0.json")
noips=$(jq -c 'del(.ips)' "$CNI_CACHE/${P}cy-eth0.0.json")
cfg=$(jq -c --argjson p "$noips" '.plugins[1] + {name, cniVersion, prevResult: $p}' "$CONFLIST")
if podsentry_run ADD "${P}cy" "/run/netns/$y" eth0 "$cfg" >/dev/null &&
	jqe --arg ip "$ip_y" '.ips == [$ip]' < "$(state_file "${P}cy")" &&
	map_has pod_ip "$(ip_key_bytes "${ip_y%/*}")"; then
	ok ips_from_link
else
	fail ips_from_link "state: $(cat "$(state_file "${P}cy")")"
fi
cni_del "${P}cy" "$y" >/dev/null

# ---- no such interface in the pod: pending (open) or code 101 (closed) ----
z=$(netns_add z)
cni_add "${P}cz" "$z" >/dev/null
cfg=$(cni_plugin_conf 1 "$CNI_CACHE/${P}cz-eth0.0.json")
if podsentry_run ADD "${P}cz" "/run/netns/$z" eth9 "$cfg" >/dev/null &&
	jqe '.pending and (.pendingReason | contains("link eth9")) and
		(.pendingReason | contains("No such device"))' < "$(state_file "${P}cz" eth9)"; then
	ok open_missing_ifname_pending
else
	fail open_missing_ifname_pending "$(cat "$(state_file "${P}cz" eth9)" 2>&1)"
fi
podsentry_run DEL "${P}cz" "/run/netns/$z" eth9 "$cfg" >/dev/null
out=$(podsentry_run ADD "${P}cz" "/run/netns/$z" eth9 "$(jq -c '. + {failPolicy: "closed"}' <<<"$cfg")")
if [ $? != 0 ] && jqe --arg ns "/run/netns/$z" '.code == 101 and (.msg | contains("link eth9")) and
	(.msg | contains($ns))' <<<"$out" && [ ! -e "$(state_file "${P}cz" eth9)" ]; then
	ok closed_missing_ifname_101
else
	fail closed_missing_ifname_101 "out=$out"
fi
cni_del "${P}cz" "$z" >/dev/null

# ---- the binary: errors on stdout as JSON, logs elsewhere ----
out=$(echo '{"cniVersion":' | CNI_COMMAND=ADD CNI_CONTAINERID=x CNI_NETNS=/x \
	CNI_IFNAME=eth0 "$PODSENTRY_CNI" 2>/dev/null)
rc=$?
if [ $rc = 1 ] && jqe '.code == 6 and (.msg | length > 0) and .cniVersion' <<<"$out" &&
	[ "$(wc -l <<<"$out")" = 1 ]; then
	ok error_json_on_stdout
else
	fail error_json_on_stdout "exit $rc, stdout: $out"
fi

# ---- one log line per command ----
if grep -q "info: ADD container=${P}ca pod=prod/web-a ifname=eth0 result=ok duration=[0-9.]*ms" "$T/cni.log" &&
	grep -q "error: CHECK container=${P}ca pod=prod/web-a ifname=eth0 result=error code=102" "$T/cni.log" &&
	grep -q "info: DEL container=${P}cb pod=web-b ifname=eth0 result=ok" "$T/cni.log" &&
	grep -q "info: GC .* result=ok" "$T/cni.log"; then
	ok log_lines
else
	fail log_lines "$(tail -5 "$T/cni.log")"
fi

if [ "$(map_count pods)" = 0 ] && [ -z "$(ls "$STATE"/*.json 2>/dev/null)" ]; then
	ok nothing_left
else
	fail nothing_left "pods=$(map_count pods) state: $(ls "$STATE")"
fi
daemon_stop
