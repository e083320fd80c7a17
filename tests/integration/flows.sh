#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Flows end to end: two pods made by the [bridge, podsentry-cni] chain,
# podsentryd with per-pod logs. A TCP transfer, UDP datagrams and an ICMP
# echo each give exactly one final flow record on the node, naming both
# pods, whose packet and byte counts each way equal what each pod's own
# IP stack counted (/proc/net/snmp and IpExt octets in its netns), with
# direction, flags and state. Flow ends on FIN, RST and idle timeout; a
# long flow gets periodic updates; the record is in both pods' logs, and
# each pod's log holds only records about it. A multicast group's flow
# is the sending pod's, or no pod's when the host sends it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"

daemon_start --state-dir "$STATE" --log-dir "$T/logs" --flow-idle 2 --flow-update 1 ||
	{ fail setup "daemon"; exit 1; }
cni_conflist
NA=$(netns_add a) && NB=$(netns_add b) || { fail setup "netns"; exit 1; }
cni_add "${P}ca" "$NA" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=client;K8S_POD_UID=uid-a" >"$T/a.json" &&
cni_add "${P}cb" "$NB" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=server;K8S_POD_UID=uid-b" >"$T/b.json" ||
	{ fail setup "cni add: $(cat "$T/a.json" "$T/b.json")"; exit 1; }
IPA=$(jq -r '.ips[0].address' "$T/a.json" | cut -d/ -f1)
IPB=$(jq -r '.ips[0].address' "$T/b.json" | cut -d/ -f1)
for ns in "$NA" "$NB"; do
	# one IP packet per segment and no IPv6 chatter, so the netns's own
	# counters measure exactly the flow under test
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip -n "$ns" link set eth0 gso_max_segs 1
	# the bridge's IGMP reports are not part of any flow under test: drop
	# them before the pod's IP layer counts them
	ip netns exec "$ns" nft -f - <<NFT
table netdev ${P}igmp {
	chain in { type filter hook ingress device eth0 priority 0; ip protocol igmp drop; }
}
NFT
done

# ipstat NETNS: "out_pkts out_bytes in_pkts in_bytes" of the netns's IP layer
ipstat() {
	ip netns exec "$1" awk '
		/^Ip: [0-9]/ { for (i = 2; i <= NF; i++) ip[h[i]] = $i; next }
		/^Ip: / { for (i = 2; i <= NF; i++) h[i] = $i; next }
		/^IpExt: [0-9]/ { for (i = 2; i <= NF; i++) ext[g[i]] = $i; next }
		/^IpExt: / { for (i = 2; i <= NF; i++) g[i] = $i; next }
		END { print ip["OutRequests"], ext["OutOctets"], ip["InReceives"], ext["InOctets"] }
	' /proc/net/snmp /proc/net/netstat
}
delta() { # BEFORE AFTER
	local a=($1) b=($2)
	echo "$((b[0] - a[0])) $((b[1] - a[1])) $((b[2] - a[2])) $((b[3] - a[3]))"
}
# flow_final POD PROTO PORT: the final flow records filed under POD
flow_final() {
	jq -c --arg pod "$1" --arg proto "$2" --argjson port "$3" 'select(.type=="flow" and .flow.final
		and .pod.name==$pod and .flow.protocol==$proto and
		($port == 0 or .flow.dst.port==$port))' "${4:-$T/export.json}"
}
# flows_to PROTO PORT: every final flow record on the node to PORT
flows_to() {
	jq -c --arg proto "$1" --argjson port "$2" 'select(.type=="flow" and .flow.final and
		.flow.protocol==$proto and .flow.dst.port==$port)' "$T/export.json"
}
counts() { jq -r '"\(.flow.packets_out) \(.flow.bytes_out) \(.flow.packets_in) \(.flow.bytes_in)"'; }
mirror() { local a=($1); echo "${a[2]} ${a[3]} ${a[0]} ${a[1]}"; }

# --- TCP transfer: the client reads a 200 000-byte file the server sends
head -c 200000 /dev/urandom >"$T/payload"
ip netns exec "$NB" busybox nc -l -p 5001 -e /bin/cat "$T/payload" &
wait_for 5 sh -c "ip netns exec $NB ss -ltn | grep -q :5001"
before=$(ipstat "$NA") before_b=$(ipstat "$NB")
t0=$(date +%s%N)
ip netns exec "$NA" bash -c "cat </dev/tcp/$IPB/5001 >$T/recv"
t1=$(date +%s%N)
[ "$(stat -c %s "$T/recv" 2>/dev/null)" = 200000 ] || fail tcp/transfer "received $(stat -c %s "$T/recv" 2>&1)"
wait_for 10 sh -c "[ -n \"\$(jq -c 'select(.type==\"flow\" and .flow.final and .flow.protocol==\"tcp\" and .flow.dst.port==5001)' $T/export.json)\" ]"
sleep 0.5 # a second record would come with the same batch
want=$(delta "$before" "$(ipstat "$NA")") want_b=$(delta "$before_b" "$(ipstat "$NB")")
all=$(flows_to tcp 5001)
[ "$(echo "$all" | grep -c .)" = 1 ] && ok tcp/one-record-on-the-node ||
	fail tcp/one-record-on-the-node "$(echo "$all" | grep -c .) final records for one connection"
a=$(flow_final client tcp 5001)
got=$(echo "$a" | counts)
[ "$got" = "$want" ] && ok tcp/client-counts-exact || fail tcp/client-counts-exact "flow '$got' client's IP stack '$want'"
# the server's IP stack sent what the record says the client received
got=$(echo "$a" | counts)
[ "$(mirror "$got")" = "$want_b" ] && ok tcp/server-counts-exact ||
	fail tcp/server-counts-exact "flow (server's side) '$(mirror "$got")' server's IP stack '$want_b'"
x=$(echo "$a" | jq -r '[.flow.direction, .flow.state, .flow.reason, ((.flow.tcp_flags_out + .flow.tcp_flags_in) | unique | join(",")),
	(.flow | has("tcp_flags")), .flow.src.ip, .flow.src.pod.name, .flow.dst.ip, .flow.dst.pod.name, .flow.dst.pod.namespace] | join(" ")')
[ "$x" = "egress closed fin ACK,FIN,PSH,SYN false $IPA client $IPB server shop" ] && ok tcp/view ||
	fail tcp/view "$x"
b=$(flow_final client tcp 5001 "$T/logs/shop/server.log")
[ -n "$a" ] && [ "$b" = "$a" ] && ok tcp/same-record-in-server-log ||
	fail tcp/same-record-in-server-log "server log: '$b'"
# start and end: within the transfer, and apart (precise, not clock ticks)
s=$(date -d "$(echo "$a" | jq -r .flow.start)" +%s%N) e=$(date -d "$(echo "$a" | jq -r .flow.end)" +%s%N)
[ "$s" -lt "$e" ] && [ $((s - t0)) -gt -20000000 ] && [ $((t1 - e)) -gt -20000000 ] &&
	ok tcp/start-end-times || fail tcp/start-end-times "start $((s - t0)) ns after the command began, end $((t1 - e)) ns before it ended, $((e - s)) ns apart"

# --- UDP: 5 datagrams of 100 bytes from one socket, client -> server:5002
# (the server drops them silently: no ICMP errors in the client's counts)
ip netns exec "$NB" nft -f - <<NFT
table inet ${P}t {
	chain input { type filter hook input priority 0; udp dport 5002 drop; }
}
NFT
before=$(ipstat "$NA")
ip netns exec "$NA" bash -c "exec 3>/dev/udp/$IPB/5002; for i in 1 2 3 4 5; do printf '%100s' x >&3; sleep 0.05; done"
sleep 0.3
want=$(delta "$before" "$(ipstat "$NA")")
wait_for 10 has_record '.type=="flow" and .flow.final and .flow.protocol=="udp" and .pod.name=="client"'
a=$(flow_final client udp 5002)
got=$(echo "$a" | counts)
[ "$want" = "5 640 0 0" ] && [ "$got" = "$want" ] && ok udp/counts-exact || fail udp/counts-exact "flow '$got' netns '$want' (want 5 640 0 0)"
x=$(echo "$a" | jq -r '[.flow.direction, .flow.reason, .flow.dst.pod.name] | join(" ")')
[ "$x" = "egress idle server" ] && ok udp/idle-end-and-named || fail udp/idle-end-and-named "$x"

# --- ICMP echo: 3 requests of 56 bytes
before=$(ipstat "$NA")
ip netns exec "$NA" busybox ping -c 3 -s 56 -i 0.2 "$IPB" >/dev/null
sleep 0.3
want=$(delta "$before" "$(ipstat "$NA")")
wait_for 10 has_record '.type=="flow" and .flow.final and .flow.protocol=="icmp" and .pod.name=="client"'
a=$(flow_final client icmp 0)
got=$(echo "$a" | counts)
[ "$want" = "3 252 3 252" ] && [ "$got" = "$want" ] && ok icmp/counts-exact || fail icmp/counts-exact "flow '$got' netns '$want' (want 3 252 3 252)"
x=$(echo "$a" | jq -r '[.flow.direction, .flow.src.pod.name, .flow.dst.pod.name] | join(" ")')
[ "$x" = "egress client server" ] && ok icmp/direction-and-pods || fail icmp/direction-and-pods "$x"

# --- RST: connect to a closed port
ip netns exec "$NA" busybox nc -w 1 "$IPB" 5009 </dev/null 2>/dev/null
wait_for 10 has_record '.type=="flow" and .flow.final and .flow.dst.port==5009 and .pod.name=="client"'
x=$(flow_final client tcp 5009 | jq -r '[.flow.state, .flow.reason, (.flow.tcp_flags_in | join(","))] | join(" ")')
[ "$x" = "refused rst RST,ACK" ] && ok tcp/rst-ends-flow-refused || fail tcp/rst-ends-flow-refused "$x"

# --- a long flow gets periodic updates (every 1 s here)
ip netns exec "$NB" busybox nc -l -p 5003 >/dev/null &
wait_for 5 sh -c "ip netns exec $NB ss -ltn | grep -q :5003"
ip netns exec "$NA" bash -c "exec 3>/dev/tcp/$IPB/5003; for i in 1 2 3 4 5 6 7; do echo x >&3; sleep 0.5; done"
wait_for 10 has_record '.type=="flow" and .flow.final and .flow.dst.port==5003 and .pod.name=="client"'
n=$(jq -c 'select(.type=="flow" and (.flow.final|not) and .flow.dst.port==5003 and .pod.name=="client")' "$T/export.json" | wc -l)
[ "$n" -ge 2 ] && ok tcp/periodic-updates || fail tcp/periodic-updates "$n updates for a 3.5 s flow"

# --- per-pod logs: each pod's records, and only its own
CL=$T/logs/shop/client.log SV=$T/logs/shop/server.log
has_record '.type=="flow" and .flow.dst.port==5001' "$CL" &&
	has_record '.type=="flow" and .flow.dst.port==5001' "$SV" &&
	ok pod-logs/flow-in-both || fail pod-logs/flow-in-both "$(ls -R "$T/logs" | tr '\n' ' ')"
has_record '.type=="process_exec" and (.process.args|join(" ")|contains("5001"))' "$CL" &&
	ok pod-logs/process-records || fail pod-logs/process-records "$(grep -c process_exec "$CL") process_exec records in $CL"
n=$(jq -r 'select(.pod.name != "client" and .flow.src.pod.name != "client" and
	.flow.dst.pod.name != "client") | .type' "$CL" | wc -l)
[ "$n" = 0 ] && ok pod-logs/only-own-records || fail pod-logs/only-own-records "$n records about other pods in client.log"

# --- group addresses: the bridge floods a datagram to a multicast group
# to every pod. From the host it is no pod's flow: one record of no pod,
# counted at each of the 2 veths it leaves by, in neither pod's log. From
# a pod it is that pod's, counted once, at its own veth.
GW=$SUBNET_PFX.1 GRP=239.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).7
mcast_send() { # NETNS|"" SOURCE_IP PORT COUNT
	${1:+ip netns exec "$1"} python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))
for i in range(int(sys.argv[4])):
    s.sendto(b"m" * 50, (sys.argv[2], int(sys.argv[3])))' "$2" "$GRP" "$3" "$4"
}
mcast_send "" "$GW" 5011 5 && mcast_send "$NA" "$IPA" 5012 3 ||
	fail group/sent "multicast send failed"
wait_for 15 has_record ".type==\"flow\" and .flow.final and .flow.dst.ip==\"$GRP\" and .flow.dst.port==5011"
wait_for 15 has_record ".type==\"flow\" and .flow.final and .flow.dst.ip==\"$GRP\" and .flow.dst.port==5012"
x=$(flows_to udp 5011 | jq -r '[.pod.name // "-", .flow.src.ip, .flow.src.pod.name // "-",
	.flow.dst.pod.name // "-", .flow.packets_out, .flow.packets_in] | join(" ")')
[ "$x" = "- $GW - - 10 0" ] && ok group/from-host-no-pod-counted-per-veth ||
	fail group/from-host-no-pod-counted-per-veth "'$x' (want '- $GW - - 10 0')"
x=$(flows_to udp 5012 | jq -r '[.pod.name, .flow.src.pod.name, .flow.dst.pod.name // "-",
	.flow.direction, .flow.packets_out, .flow.packets_in] | join(" ")')
[ "$x" = "client client - egress 3 0" ] && ok group/from-pod-its-own-counted-once ||
	fail group/from-pod-its-own-counted-once "'$x' (want 'client client - egress 3 0')"
"$PODSENTRY" observe --file "$T/export.json" --color never --type flow | grep -q "  -  flow  $GW:[0-9]* -> $GRP:5011 udp  out 780 B in 0 B" &&
	ok group/compact-line-names-the-sender ||
	fail group/compact-line-names-the-sender "$("$PODSENTRY" observe --file "$T/export.json" --color never --type flow | grep -F "$GRP")"
! grep -q "\"$GRP\",\"port\":5011" "$CL" "$SV" && grep -q "\"$GRP\",\"port\":5012" "$CL" &&
	! grep -q "\"$GRP\",\"port\":5012" "$SV" && ok group/pod-logs ||
	fail group/pod-logs "$(grep -c "$GRP" "$CL" "$SV" | tr '\n' ' ')"

daemon_stop
cni_del "${P}ca" "$NA" >/dev/null
cni_del "${P}cb" "$NB" >/dev/null
