#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Maps kept pinned (--keep-pins) that do not fit the daemon now starting
# (other --max-flows sizes, or a layout from another version) are
# replaced, and the pins of maps it no longer has removed, with a line in
# the log for each; the maps that fit are reused, and the
# pods made before keep being watched: their flows are recorded after the
# restart, through programs attached again to maps made again.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"

daemon_start --state-dir "$STATE" --keep-pins --max-flows 4096,2048 --flow-idle 1 ||
	{ fail setup "daemon"; exit 1; }
cni_conflist
NA=$(netns_add a) && NB=$(netns_add b) || { fail setup "netns"; exit 1; }
cni_add "${P}ca" "$NA" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=up;K8S_POD_NAME=client" >"$T/a.json" &&
cni_add "${P}cb" "$NB" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=up;K8S_POD_NAME=server" >"$T/b.json" ||
	{ fail setup "cni add: $(cat "$T/a.json" "$T/b.json")"; exit 1; }
IPB=$(jq -r '.ips[0].address' "$T/b.json" | cut -d/ -f1)
trap 'cni_del "${P}ca" "$NA" >/dev/null 2>&1; cni_del "${P}cb" "$NB" >/dev/null 2>&1' EXIT

# pinged: one echo from client to server, then a final icmp flow record
# in the client's view naming the server's pod
pinged() {
	ip netns exec "$NA" busybox ping -c 1 -W 2 "$IPB" >/dev/null || return 1
	# counted line by line: the daemon may be half-way through a line
	wait_for 10 sh -c "[ \$(jq -c 'select(.type==\"flow\" and .flow.final and .flow.protocol==\"icmp\" and
		.pod.name==\"client\" and .flow.dst.pod.name==\"server\")' $T/export.json 2>/dev/null | wc -l) -ge 1 ]"
}
pinged && ok flow-before-restart || fail flow-before-restart "no final icmp flow record"
pods_id=$(map_info pods id) flows_id=$(map_info flows4 id)
daemon_stop || fail first-stop "exit status $?"
[ "$(map_info flows4 max_entries)" = 4096 ] && ok kept-pins || fail kept-pins "flows4: $(map_info flows4 max_entries)"

# a map of another version's layout: listeners with a smaller value
rm -f "$BPFFS/listeners"
bpftool map create "$BPFFS/listeners" type hash key 8 value 16 entries 64 name listeners ||
	fail setup "bpftool map create"
# ... and a map an older version had and this one has not
bpftool map create "$BPFFS/sock_pending" type hash key 8 value 24 entries 64 name sock_pending ||
	fail setup "bpftool map create"

: >"$T/export.json"
if daemon_start --state-dir "$STATE" --keep-pins --flow-idle 1; then
	grep -q "pinned map $BPFFS/flows4 (type 9, key 16 B, value .* 4096 entries) does not fit (.* 131072 entries): replaced" "$T/daemon.log" &&
		grep -q "pinned map $BPFFS/listeners (type 1, key 8 B, value 16 B, 64 entries) does not fit" "$T/daemon.log" &&
		ok unfit-maps-replaced-and-logged || fail unfit-maps-replaced-and-logged "$(grep 'pinned map' "$T/daemon.log")"
	[ ! -e "$BPFFS/sock_pending" ] && grep -q "pinned map $BPFFS/sock_pending is not used any more: removed" "$T/daemon.log" &&
		ok obsolete-pin-removed || fail obsolete-pin-removed "$(ls "$BPFFS")"
	[ "$(map_info flows4 max_entries)" = 131072 ] && [ "$(map_info flows6 max_entries)" = 65536 ] &&
		[ "$(map_info listeners bytes_value)" -gt 16 ] &&
		ok new-maps-pinned || fail new-maps-pinned "flows4 $(map_info flows4 max_entries) flows6 $(map_info flows6 max_entries)"
	[ "$(map_info pods id)" = "$pods_id" ] && [ "$(map_info flows4 id)" != "$flows_id" ] &&
		ok fitting-maps-reused || fail fitting-maps-reused "pods id $pods_id -> $(map_info pods id)"
	# the program on the client's veth is the one pinned now, and it
	# accounts into the new flows4
	hv=$(host_veth "$NA")
	on_veth=$(tc filter show dev "$hv" ingress | grep -o ' id [0-9]*' | head -n 1 | tr -dc 0-9)
	pinned=$(bpftool -j prog show pinned "$BPFFS/prog_tc_ingress" | jq .id)
	bpftool -j prog show id "$on_veth" | jq -e --argjson m "$(map_info flows4 id)" '.map_ids | index($m)' >/dev/null &&
		[ "$on_veth" = "$pinned" ] && ok pod-programs-use-new-maps ||
		fail pod-programs-use-new-maps "veth $hv runs prog ${on_veth:-none}, pinned is $pinned"
	pinged && ok flow-after-restart || fail flow-after-restart "no final icmp flow record after the restart"
	daemon_stop || fail second-stop "exit status $?"
else
	fail unfit-maps-replaced-and-logged "daemon did not start: $(tail -3 "$T/daemon.log")"
fi
# a start without --keep-pins and its stop leave nothing pinned
daemon_start --state-dir "$STATE" && daemon_stop
cni_del "${P}ca" "$NA" >/dev/null && cni_del "${P}cb" "$NB" >/dev/null
trap - EXIT
