#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# podsentry-cni while podsentryd is down: failPolicy "open" lets ADD
# succeed and records the pod as pending; "closed" refuses with code 11
# (and STATUS says 50). Starting podsentryd afterwards reconciles: the
# pending pod gets its filters and map entries and its processes carry its
# name; state whose netns is gone is removed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-cni.sh"

trap 'daemon_stop >/dev/null 2>&1' EXIT
cni_conflist
[ -e "$BPFFS/pods" ] && { fail no_pins "pins exist before the daemon ran"; exit 1; }

a=$(netns_add a) g=$(netns_add g)
ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=ops;K8S_POD_NAME=late-pod"
if out=$(cni_add "${P}ca" "$a" eth0 "$ARGS") &&
	[ "$(jq -S . <<<"$out")" = "$(jq -S . "$CNI_CACHE/${P}ca-eth0.0.json")" ] &&
	jqe '.pending == true and (.pendingReason | contains("/pods"))' < "$(state_file "${P}ca")" &&
	grep -q "warn: ADD container=${P}ca .*not watched yet (failPolicy open): pin $BPFFS/pods" "$T/cni.log"; then
	ok open_add_succeeds_pending
else
	fail open_add_succeeds_pending "out=$out state=$(cat "$(state_file "${P}ca")" 2>&1)"
fi
check open_check_passes_pending cni_check "${P}ca" "$a"
# a second pending pod whose netns disappears before the daemon starts
cni_add "${P}cg" "$g" >/dev/null || fail add_g "ADD of the second pod failed"
ip netns del "$g"

# ---- failPolicy closed ----
cni_conflist '{"failPolicy":"closed"}'
c=$(netns_add c)
out=$(cni_add "${P}cc" "$c")
if [ $? != 0 ] && jqe --arg pin "$BPFFS/pods" '.code == 11 and (.msg | contains($pin))' <<<"$out" &&
	[ ! -e "$(state_file "${P}cc")" ]; then
	ok closed_add_fails_11
else
	fail closed_add_fails_11 "out=$out"
fi
cni_del "${P}cc" "$c" >/dev/null 2>&1
status=$(cni_plugin_conf 1 | jq -c '. + {cniVersion: "1.1.0"}' | cni_exec STATUS podsentry-cni "" "" "" "")
if [ $? != 0 ] && jqe '.code == 50' <<<"$status"; then
	ok closed_status_50
else
	fail closed_status_50 "STATUS printed $status"
fi
cni_conflist

# ---- a state folder that cannot be used ----
touch "$T/notadir"
cni_conflist "{\"stateDir\":\"$T/notadir/state\"}"
s=$(netns_add s)
if out=$(cni_add "${P}cs" "$s") &&
	[ "$(jq -S . <<<"$out")" = "$(jq -S . "$CNI_CACHE/${P}cs-eth0.0.json")" ] &&
	grep -q "warn: ADD container=${P}cs .*skipped (failPolicy open): create state folder $T/notadir/state" "$T/cni.log" &&
	cni_del "${P}cs" "$s" >/dev/null; then
	ok open_without_state_dir
else
	fail open_without_state_dir "out=$out"
fi
cni_conflist "{\"stateDir\":\"$T/notadir/state\",\"failPolicy\":\"closed\"}"
out=$(cni_add "${P}cs" "$s")
if [ $? != 0 ] && jqe '.code == 5 and (.msg | contains("notadir/state"))' <<<"$out"; then
	ok closed_without_state_dir_fails_5
else
	fail closed_without_state_dir_fails_5 "out=$out"
fi
cni_del "${P}cs" "$s" >/dev/null 2>&1
cni_conflist

# ---- podsentryd starts and reconciles ----
if ! daemon_start --state-dir "$STATE"; then
	fail daemon_start "podsentryd did not start"
	exit 1
fi
va=$(host_veth "$a")
sf=$(state_file "${P}ca")
if tc_has_ours "$va" ingress && tc_has_ours "$va" egress &&
	map_has pods "$(u32_bytes "$(netns_ino "$a")")" &&
	map_has pod_ifindex "$(u32_bytes "$(host_ifindex "$va")")" &&
	jqe '.pending == false and .attached.tcIngress' < "$sf"; then
	ok reconcile_attaches
else
	fail reconcile_attaches "filters: $(tc filter show dev "$va" ingress); state: $(cat "$sf")"
fi
if [ ! -e "$(state_file "${P}cg")" ]; then
	ok reconcile_removes_gone_netns
else
	fail reconcile_removes_gone_netns "state of ${P}cg is still there"
fi
check check_passes_after_reconcile cni_check "${P}ca" "$a"

pod_exec_seen() {
	records process_exec | jqe -s --arg b "$1" \
		'map(select((.process.binary | endswith($b)) and .pod.name == "late-pod" and
			.pod.namespace == "ops" and .pod.container_id == env.CID)) | length > 0'
}
export CID=${P}ca
printf '#!/bin/sh\nexit 0\n' > "$T/${P}probe"
chmod +x "$T/${P}probe"
ip netns exec "$a" "$T/${P}probe"
if wait_for 10 pod_exec_seen "${P}probe"; then
	ok processes_carry_pod_name
else
	fail processes_carry_pod_name "no process_exec of ${P}probe with pod late-pod: $(records process_exec | tail -3)"
fi

# a pod added while the daemon runs is named from its first record on
n=$(netns_add n)
cni_add "${P}cn" "$n" eth0 "IgnoreUnknown=1;K8S_POD_NAME=new-pod" >/dev/null
ip netns exec "$n" "$T/${P}probe"
new_seen() { records process_exec | jqe -s 'map(select(.pod.name == "new-pod")) | length > 0'; }
if wait_for 10 new_seen; then
	ok new_pod_named
else
	fail new_pod_named "no process_exec with pod new-pod"
fi
cni_del "${P}cn" "$n" >/dev/null
cni_del "${P}ca" "$a" >/dev/null
if [ -z "$(ls "$STATE"/*.json 2>/dev/null)" ] && [ "$(map_count pods)" = 0 ]; then
	ok nothing_left
else
	fail nothing_left "state: $(ls "$STATE"); pods=$(map_count pods)"
fi
daemon_stop
