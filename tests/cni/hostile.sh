#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# podsentry-cni against a caller that lies or sends junk, with podsentryd's
# pins and the [bridge, podsentry-cni] chain:
#  netns/     CNI_NETNS that is the host's netns (directly, through a
#             symlink, /proc/self, /proc/1), or no netns at all (a file,
#             a folder, a FIFO, a device, a mount namespace, nothing):
#             ADD refused with code 4 whatever the fail policy, nothing
#             registered; DEL still succeeds
#  prev/      a prevResult forged to list another pod's address, or an
#             ADD naming another pod's netns and interface: the other pod
#             keeps its pod_ip entry and its filters through this ADD and
#             its DEL, and its flows keep its name
#  log/       CNI_ARGS and environment values with newlines and bad bytes:
#             one log line per command, the forged text escaped
#  env/       an over-long CNI_CONTAINERID, bytes after the config
#  names/     pod names that are not text: ADD works, the state file is
#             valid UTF-8 and gives the exact bytes back
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-cni.sh"

trap 'daemon_stop >/dev/null 2>&1' EXIT
if ! daemon_start --state-dir "$STATE" --flow-idle 2; then
	fail daemon_start "podsentryd did not start (see $T/daemon.log)"
	exit 1
fi
cni_conflist
host_ino=$(stat -L -c %i /proc/self/ns/net)

# psrun CMD CID NETNS IFNAME [CNI_ARGS] < CONF: podsentry-cni alone,
# killed after 20 s (an open() that waits forever is a failure too)
psrun() {
	timeout 20 env -i PATH="$PATH" CNI_COMMAND="$1" CNI_CONTAINERID="$2" \
		CNI_NETNS="$3" CNI_IFNAME="$4" CNI_ARGS="${5:-}" \
		CNI_PATH="$CNI_BIN_PATH" "$PODSENTRY_CNI"
}

# pod_ip_slot A.B.C.D: the slot pod_ip maps the address to ("" for none)
pod_ip_slot() {
	bpftool -j map lookup pinned "$BPFFS/pod_ip" key $(ip_key_bytes "$1") 2>/dev/null |
		jq -r '.formatted.value // empty'
}

a=$(netns_add a)
if ! cni_add "${P}ca" "$a" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=hostile;K8S_POD_NAME=pod-a" >/dev/null; then
	fail setup "ADD of pod a failed"
	exit 1
fi
ip_a=$(jq -r '.ips[0].address' "$CNI_CACHE/${P}ca-eth0.json" | cut -d/ -f1)
slot_a=$(jq .slot "$(state_file "${P}ca")")
PREV_A=$CNI_CACHE/${P}ca-eth0.0.json

# ---- netns: never a pod in the host's netns, never a pod without one ----
# a veth pair in the host's netns: what a pod's would look like from inside
ip link add "${P}h0" type veth peer name "${P}h1"
ln -s /proc/self/ns/net "$T/hostns"
touch "$T/file"
mkdir "$T/dir"
mkfifo "$T/fifo"
netns_cases=(
	"host_self|/proc/self/ns/net|is the host's network namespace"
	"host_symlink|$T/hostns|is the host's network namespace"
	"host_thread_self|/proc/thread-self/ns/net|is the host's network namespace"
	"host_init|/proc/1/ns/net|"
	"regular_file|$T/file|a regular file, not a network namespace"
	"folder|$T/dir|a folder, not a network namespace"
	"fifo|$T/fifo|a FIFO, not a network namespace"
	"char_device|/dev/null|a character device, not a network namespace"
	"mount_ns|/proc/self/ns/mnt|a mount namespace, not a network namespace"
	"missing|$T/none|No such file or directory"
)
i=0
for c in "${netns_cases[@]}"; do
	IFS='|' read -r name path want <<<"$c"
	i=$((i + 1))
	why=
	for policy in open closed; do
		cid=${P}n$i$policy
		conf=$(cni_plugin_conf 1 "$PREV_A" | jq -c --arg p $policy '. + {failPolicy: $p}')
		out=$(psrun ADD "$cid" "$path" "${P}h1" "IgnoreUnknown=1;K8S_POD_NAME=host-$name" <<<"$conf")
		rc=$?
		# /proc/1 may be unreadable (then: Permission denied); else it
		# is init's, the host's netns
		[ "$name" = host_init ] && ! [ -r /proc/1/ns/net ] && want="Permission denied"
		[ "$name" = host_init ] && [ -r /proc/1/ns/net ] && want="is the host's network namespace"
		if [ $rc != 1 ] || ! jqe --arg p "$path" --arg w "$want" '.code == 4 and
			(.msg | startswith("CNI_NETNS: netns " + $p + ": ")) and (.msg | contains($w))' <<<"$out"; then
			why="$why [$policy: exit $rc, stdout $out]"
		fi
		[ -e "$(state_file "$cid" "${P}h1")" ] && why="$why [$policy: state file written]"
	done
	if map_has pods "$(u32_bytes "$host_ino")" || tc_has_ours "${P}h0" ingress; then
		why="$why [the host's netns is registered: pods[$host_ino] or filters on ${P}h0]"
	fi
	if [ -z "$why" ]; then ok "netns/$name"; else fail "netns/$name" "$why"; fi
done
# DEL must succeed when the netns is gone or was never a pod's
conf=$(cni_plugin_conf 1 "$PREV_A")
if psrun DEL "${P}n1open" "$T/none" "${P}h1" <<<"$conf" >/dev/null &&
	psrun DEL "${P}n1open" /proc/self/ns/net "${P}h1" <<<"$conf" >/dev/null &&
	psrun DEL "${P}n5closed" "$T/file" "${P}h1" <<<"$conf" >/dev/null; then
	ok netns/del_succeeds
else
	fail netns/del_succeeds "DEL failed"
fi
ip link del "${P}h0" 2>/dev/null

# ---- prevResult forged to list pod a's address ----
# pod b: bridge's ADD as usual, then podsentry-cni with a prevResult that
# lists pod a's address on b's eth0 (and not b's own)
b=$(netns_add b)
cni_plugin_conf 0 | cni_exec ADD bridge "${P}cb" "/run/netns/$b" eth0 IgnoreUnknown=1 \
	>"$CNI_CACHE/${P}cb-eth0.0.json"
ip_b=$(jq -r '.ips[0].address' "$CNI_CACHE/${P}cb-eth0.0.json" | cut -d/ -f1)
jq -c --arg x "$ip_a/24" '.ips = [.ips[0] + {address: $x}]' "$CNI_CACHE/${P}cb-eth0.0.json" \
	>"$CNI_CACHE/${P}cb-eth0.json"
out=$(cni_plugin_conf 1 "$CNI_CACHE/${P}cb-eth0.json" |
	psrun ADD "${P}cb" "/run/netns/$b" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=hostile;K8S_POD_NAME=pod-b")
rc=$?
sf_b=$(state_file "${P}cb")
slot_b=$(jq .slot "$sf_b" 2>/dev/null)
if [ $rc = 0 ] && [ "$(pod_ip_slot "$ip_a")" = "$slot_a" ] &&
	[ "$(pod_ip_slot "$ip_b")" = "$slot_b" ] && [ "$slot_b" != "$slot_a" ] &&
	jqe --arg ip "$ip_b/24" '.ips == [$ip]' <"$sf_b" &&
	grep -q "warn: ADD container=${P}cb pod=hostile/pod-b ifname=eth0: prevResult lists $ip_a/24, not on eth0 in the pod's netns: ignored" "$T/cni.log"; then
	ok prev/forged_address_not_taken
else
	fail prev/forged_address_not_taken "exit $rc $out; pod_ip[$ip_a]=$(pod_ip_slot "$ip_a") (pod a's slot $slot_a), pod_ip[$ip_b]=$(pod_ip_slot "$ip_b") (pod b's slot $slot_b); state: $(cat "$sf_b" 2>&1); log: $(tail -n 2 "$T/cni.log")"
fi

# pod d has pod a's address on its interface too (a runtime that set it
# up so): a live pod's entry is still not overwritten, and the state
# says which address is held by another pod
d=$(netns_add d)
cni_plugin_conf 0 | cni_exec ADD bridge "${P}cd" "/run/netns/$d" eth0 IgnoreUnknown=1 \
	>"$CNI_CACHE/${P}cd-eth0.0.json"
ip_d=$(jq -r '.ips[0].address' "$CNI_CACHE/${P}cd-eth0.0.json" | cut -d/ -f1)
cp "$CNI_CACHE/${P}cd-eth0.0.json" "$CNI_CACHE/${P}cd-eth0.json"
# (no ARP answers for it from d: pod a's traffic stays pod a's)
ip netns exec "$d" sysctl -qw net.ipv4.conf.eth0.arp_ignore=8
ip -n "$d" addr add "$ip_a/24" dev eth0 noprefixroute
out=$(cni_plugin_conf 1 "$CNI_CACHE/${P}cd-eth0.json" |
	psrun ADD "${P}cd" "/run/netns/$d" eth0 "IgnoreUnknown=1;K8S_POD_NAME=pod-d")
rc=$?
sf_d=$(state_file "${P}cd")
slot_d=$(jq .slot "$sf_d" 2>/dev/null)
if [ $rc = 0 ] && [ "$(pod_ip_slot "$ip_a")" = "$slot_a" ] &&
	[ "$(pod_ip_slot "$ip_d")" = "$slot_d" ] &&
	jqe --arg d "$ip_d/24" --arg a "$ip_a/24" '.ips == [$d] and .ipsHeld == [$a]' <"$sf_d" &&
	grep -q "warn: ADD container=${P}cd pod=pod-d ifname=eth0: pod_ip maps $ip_a/24 to another live pod" "$T/cni.log" &&
	cni_check "${P}cd" "$d" >/dev/null; then
	ok prev/live_entry_never_overwritten
else
	fail prev/live_entry_never_overwritten "exit $rc $out; pod_ip[$ip_a]=$(pod_ip_slot "$ip_a") (pod a's slot $slot_a); state: $(cat "$sf_d" 2>&1)"
fi
ip -n "$d" addr del "$ip_a/24" dev eth0
cni_del "${P}cd" "$d" >/dev/null

# DEL of pod b (the chain, with the forged result it was given) removes
# what is b's and nothing of a's
cni_del "${P}cb" "$b" eth0 >/dev/null
if [ "$(pod_ip_slot "$ip_a")" = "$slot_a" ] && [ -z "$(pod_ip_slot "$ip_b")" ] &&
	[ -z "$(pod_ip_slot "$ip_d")" ] && [ ! -e "$sf_b" ] && cni_check "${P}ca" "$a" >/dev/null; then
	ok prev/del_keeps_other_pod
else
	fail prev/del_keeps_other_pod "pod_ip[$ip_a]=$(pod_ip_slot "$ip_a") (pod a's slot $slot_a), pod_ip[$ip_b]=$(pod_ip_slot "$ip_b"); CHECK a: $(cni_check "${P}ca" "$a")"
fi

# an ADD naming pod a's netns and interface under another container id:
# its DEL takes nothing of pod a's (filters, pod_ifindex, pod_ip)
va=$(host_veth "$a")
ia=$(host_ifindex "$va")
cni_plugin_conf 1 "$PREV_A" | psrun ADD "${P}cx" "/run/netns/$a" eth0 \
	"IgnoreUnknown=1;K8S_POD_NAME=pod-x" >/dev/null
cni_plugin_conf 1 "$PREV_A" | psrun DEL "${P}cx" "/run/netns/$a" eth0 >/dev/null
if [ "$(pod_ip_slot "$ip_a")" = "$slot_a" ] && map_has pod_ifindex "$(u32_bytes "$ia")" &&
	tc_has_ours "$va" ingress && tc_has_ours "$va" egress &&
	[ ! -e "$(state_file "${P}cx")" ] && cni_check "${P}ca" "$a" >/dev/null; then
	ok prev/same_interface_other_id_del_keeps_pod
else
	fail prev/same_interface_other_id_del_keeps_pod "pod_ip[$ip_a]=$(pod_ip_slot "$ip_a"); filters on $va: $(tc filter show dev "$va" ingress); CHECK a: $(cni_check "${P}ca" "$a")"
fi

# pod a's flows still name pod a: pod c connects to it
c=$(netns_add c)
cni_add "${P}cc" "$c" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=hostile;K8S_POD_NAME=pod-c" >/dev/null
ip netns exec "$a" busybox nc -l -p 5101 </dev/null >/dev/null &
wait_for 5 sh -c "ip netns exec $a ss -ltn | grep -q :5101"
ip netns exec "$c" busybox nc -w 2 "$ip_a" 5101 </dev/null >/dev/null 2>&1
if wait_for 15 has_record ".type==\"flow\" and .flow.final and .pod.name==\"pod-c\" and
	.flow.dst.ip==\"$ip_a\" and .flow.dst.port==5101 and .flow.dst.pod.name==\"pod-a\""; then
	ok prev/other_pod_flows_named
else
	fail prev/other_pod_flows_named "no flow record of pod-c to $ip_a:5101 naming pod-a: $(jq -c 'select(.type=="flow" and .flow.dst.port==5101) | [.pod.name, .flow.dst.ip, .flow.dst.pod.name]' "$T/export.json")"
fi
cni_del "${P}cc" "$c" >/dev/null

# ---- log: one line per command, whatever the values hold ----
cni_conflist "{\"logFile\":\"$T/inject.log\"}"
e=$(netns_add e)
# (no '=' in it: CNI_ARGS values cannot have one)
forged=$'web\n2026-12-01T00:00:00.000000Z podsentry-cni[1] info: ADD container:forged result:ok\xff'
EARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=prod;K8S_POD_NAME=$forged"
cni_add "${P}ce" "$e" eth0 "$EARGS" >/dev/null || fail log/setup "ADD with the forged name failed"
cni_del "${P}ce" "$e" eth0 "$EARGS" >/dev/null || fail log/setup "DEL with the forged name failed"
conf=$(cni_plugin_conf 1 "$PREV_A")
psrun ADD $'bad\nid' "/run/netns/$e" eth0 IgnoreUnknown=1 <<<"$conf" >/dev/null
psrun ADD "${P}cf" "/run/netns/$e" $'eth\n0' IgnoreUnknown=1 <<<"$conf" >/dev/null
psrun $'ADD\n2026-12-01T00:00:00Z info: GC' "${P}cf" "/run/netns/$e" eth0 <<<"$conf" >/dev/null
psrun ADD "${P}cf" "/run/netns/$e" eth0 $'K8S_POD_NAME\n2026' <<<"$conf" >/dev/null
lines=$(wc -l <"$T/inject.log")
esc='pod=prod/web\n2026-12-01T00:00:00.000000Z\x20podsentry-cni[1]\x20info:\x20ADD\x20container:forged\x20result:ok\xFF ifname=eth0 result=ok'
if [ "$lines" = 6 ] &&
	[ "$(grep -c -E '^20[0-9-]{8}T[0-9:.]{15}Z podsentry-cni\[[0-9]+\] (info|warn|error): ' "$T/inject.log")" = 6 ] &&
	! grep -q '^2026-12-01T00:00:00.000000Z' "$T/inject.log" &&
	grep -q -F "info: ADD container=${P}ce $esc" "$T/inject.log" &&
	grep -q -F "info: DEL container=${P}ce $esc" "$T/inject.log" &&
	grep -q -F 'error: ADD container=bad\nid pod=- ifname=eth0 result=error code=4 msg="CNI_CONTAINERID "bad\nid" is not a valid container id' "$T/inject.log" &&
	grep -q -F 'ifname=eth\n0 result=error code=4 msg="CNI_IFNAME "eth\n0" is not a valid interface name"' "$T/inject.log" &&
	grep -q -F 'error: ADD\n2026-12-01T00:00:00Z\x20info:\x20GC container='"${P}cf" "$T/inject.log" &&
	grep -q -F 'msg="CNI_ARGS: "K8S_POD_NAME\n2026" is not KEY=VALUE"' "$T/inject.log"; then
	ok log/one_line_per_command_escaped
else
	fail log/one_line_per_command_escaped "$lines lines: $(cat -A "$T/inject.log" | cut -c 1-300)"
fi
cni_conflist

# ---- env: CNI_CONTAINERID whose state file cannot be written; trailing bytes ----
# pod h: bridge's ADD with a short id, podsentry-cni's with long ones
h=$(netns_add h)
cni_plugin_conf 0 | cni_exec ADD bridge "${P}ch" "/run/netns/$h" eth0 IgnoreUnknown=1 \
	>"$CNI_CACHE/${P}ch-eth0.0.json"
cp "$CNI_CACHE/${P}ch-eth0.0.json" "$CNI_CACHE/${P}ch-eth0.json"
conf=$(cni_plugin_conf 1 "$CNI_CACHE/${P}ch-eth0.json")
why=
for n in 235 246 250 255; do
	cid=$(printf 'c%.0s' $(seq "$n"))
	out=$(psrun ADD "$cid" "/run/netns/$h" eth0 IgnoreUnknown=1 <<<"$conf")
	rc=$?
	{ [ $rc = 1 ] && jqe --argjson n "$n" '.code == 4 and
		(.msg | startswith("CNI_CONTAINERID is \($n) bytes long, at most 234"))' <<<"$out"; } ||
		why="$why [$n bytes: exit $rc $out]"
	grep -q "error: ADD container=$cid .*result=error code=4" "$T/cni.log" ||
		why="$why [$n bytes: no error line]"
	[ -e "$(state_file "$cid")" ] && why="$why [$n bytes: state written]"
done
map_has pods "$(u32_bytes "$(netns_ino "$h")")" && why="$why [pod h registered]"
# 234 bytes fit: that ADD is done and undone like any other
long_ok=$(printf 'c%.0s' $(seq 234))
if ! psrun ADD "$long_ok" "/run/netns/$h" eth0 IgnoreUnknown=1 <<<"$conf" >/dev/null ||
	! jqe '.pending == false and .attached.tcIngress' <"$(state_file "$long_ok")" ||
	! map_has pods "$(u32_bytes "$(netns_ino "$h")")"; then
	why="$why [234 bytes: $(cat "$(state_file "$long_ok")" 2>&1)]"
fi
psrun DEL "$long_ok" "/run/netns/$h" eth0 IgnoreUnknown=1 <<<"$conf" >/dev/null ||
	why="$why [234 bytes: DEL failed]"
[ -e "$(state_file "$long_ok")" ] && why="$why [234 bytes: state left after DEL]"
if [ -z "$why" ]; then ok env/container_id_too_long_refused; else fail env/container_id_too_long_refused "$why"; fi

len=$(printf '%s' "$conf" | wc -c)
why=
out=$(printf '%s\0' "$conf" | psrun ADD "${P}ct" "/run/netns/$h" eth0 IgnoreUnknown=1)
jqe --arg m "network config: trailing data at byte $len (a NUL byte)" '.code == 6 and .msg == $m' <<<"$out" ||
	why="$why [NUL: $out]"
out=$(printf '%s {} junk' "$conf" | psrun ADD "${P}ct" "/run/netns/$h" eth0 IgnoreUnknown=1)
jqe --arg m "network config: trailing data at byte $((len + 1)) ('{')" '.code == 6 and .msg == $m' <<<"$out" ||
	why="$why [junk: $out]"
out=$(printf '%s\0' '{"cniVersion":"1.0.0"}' | psrun VERSION "" "" "")
jqe '.code == 6 and .msg == "VERSION: stdin: trailing data at byte 22 (a NUL byte)"' <<<"$out" ||
	why="$why [VERSION: $out]"
[ -e "$(state_file "${P}ct")" ] && why="$why [state written]"
if [ -z "$why" ]; then ok env/trailing_bytes_refused; else fail env/trailing_bytes_refused "$why"; fi
cni_del "${P}ch" "$h" >/dev/null

# ---- names: any bytes but NUL, kept exactly, shown as text ----
g=$(netns_add g)
name=$'web\x01\xff-\xc3(\x7f' ns=$'ns-\xe2\x80\xa8x' uid=$'u\xed\xa0\x80'
GARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=$ns;K8S_POD_NAME=$name;K8S_POD_UID=$uid"
sf_g=$(state_file "${P}cg")
# pct_decode: the bytes a percent-encoded field stands for
pct_decode() { printf '%b' "$(sed -e 's/\\/\\\\/g' -e 's/%\([0-9A-F][0-9A-F]\)/\\x\1/g')"; }
if out=$(cni_add "${P}cg" "$g" eth0 "$GARGS"); then
	ok names/add_not_refused
else
	fail names/add_not_refused "ADD failed: $out"
fi
U=$'\xef\xbf\xbd'
if [ -f "$sf_g" ] && iconv -f UTF-8 -t UTF-8 "$sf_g" >/dev/null 2>&1 &&
	[ "$(wc -l <"$sf_g")" = 1 ] && ! LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$sf_g" &&
	jqe --arg n "web$U$U-$U($U" --arg ns "ns-${U}x" --arg u "u$U$U$U" '
		.pod.name == $n and .pod.nameNotText and .pod.nameRaw == "web%01%FF-%C3(%7F" and
		.pod.namespace == $ns and .pod.namespaceNotText and .pod.namespaceRaw == "ns-%E2%80%A8x" and
		.pod.uid == $u and .pod.uidRaw == "u%ED%A0%80" and (.pod | has("infraContainerIdRaw") | not)' <"$sf_g" &&
	[ "$(jq -r .pod.nameRaw "$sf_g" | pct_decode | od -An -tx1)" = "$(printf '%s' "$name" | od -An -tx1)" ] &&
	[ "$(jq -r .pod.namespaceRaw "$sf_g" | pct_decode | od -An -tx1)" = "$(printf '%s' "$ns" | od -An -tx1)" ] &&
	[ "$(jq -r .pod.uidRaw "$sf_g" | pct_decode | od -An -tx1)" = "$(printf '%s' "$uid" | od -An -tx1)" ]; then
	ok names/state_file_text_and_exact
else
	fail names/state_file_text_and_exact "$(cat -A "$sf_g" 2>&1 | cut -c 1-600)"
fi
# DEL without CNI_ARGS names the pod from its state (escaped), CHECK passes
if cni_check "${P}cg" "$g" >/dev/null && cni_del "${P}cg" "$g" eth0 "" >/dev/null &&
	[ ! -e "$sf_g" ] &&
	grep -q -F 'info: DEL container='"${P}cg"' pod=ns-\xE2\x80\xA8x/web\x01\xFF-\xC3(\x7F ifname=eth0 result=ok' "$T/cni.log"; then
	ok names/check_and_del
else
	fail names/check_and_del "state: $(ls "$STATE"); log: $(grep "${P}cg" "$T/cni.log" | tail -n 2)"
fi

cni_del "${P}ca" "$a" >/dev/null
if [ "$(map_count pods)" = 0 ] && [ "$(map_count pod_ip)" = 0 ] &&
	[ -z "$(ls "$STATE"/*.json 2>/dev/null)" ]; then
	ok nothing_left
else
	fail nothing_left "pods=$(map_count pods) pod_ip=$(map_count pod_ip) state: $(ls "$STATE")"
fi
daemon_stop
