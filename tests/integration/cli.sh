#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# podsentry, the command-line client, against the real daemon: pods made
# by the real [bridge, podsentry-cni] chain, a scripted scenario (known
# connections between pods of two namespaces, nc in a pod: one
# network-tool-in-pod alert), and what `podsentry observe` returns with
# each filter compared with the export filtered by jq; --follow with two
# clients at once; a client that stops reading while thousands of
# records are made (the daemon, the other client and the export go on;
# the slow one is told what it lost); --file; pods, alerts and status;
# the socket's modes, a stale socket, a second daemon on it; errors and
# exit codes.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"
. "$(dirname "$0")/lib-detect.sh"
PS=$PODSENTRY
SOCK=$T/api.sock
E=$T/export.json
N=3 # connections client -> server
BURST=4000 # execs while a client does not read

for c in jq python3 script; do
	command -v $c >/dev/null || { fail setup "$c is missing (make deps)"; exit 1; }
done
ps_() { "$PS" --socket "$SOCK" "$@"; }

# --- no daemon: the precise error, exit 1
out=$("$PS" --socket "$SOCK" status 2>&1)
rc=$?
[ $rc = 1 ] && [ "$out" = "podsentry: cannot connect to $SOCK: No such file or directory (is podsentryd running? --socket PATH)" ] &&
	ok errors/no-daemon || fail errors/no-daemon "rc $rc: $out"
# the default path whatever the other options
"$PS" --help | grep -q "default /run/podsentry/podsentryd.sock" &&
	"$PODSENTRYD" --help | grep -q "/run/podsentry/podsentryd.sock" &&
	ok options/default-socket || fail options/default-socket "$("$PS" --help | grep socket)"

# --- option errors: one line and a hint on stderr, exit 2
opt_err() { # NAME WANT_LINE ARGS...
	local name=$1 want=$2 out err rc
	shift 2
	out=$("$PS" --socket "$SOCK" "$@" 2>"$T/opt.err")
	rc=$?
	err=$(cat "$T/opt.err")
	[ $rc = 2 ] && [ -z "$out" ] && [ "$(head -n 1 <<<"$err")" = "$want" ] &&
		[ "$(wc -l <"$T/opt.err")" = 2 ] && [[ "$(tail -n 1 <<<"$err")" == "Try 'podsentry"*"--help'." ]] &&
		ok "errors/$name" || fail "errors/$name" "rc $rc, stdout '$out', stderr '$err'"
}
opt_err unknown-option 'podsentry observe: --bogus: unknown option or missing argument' observe --bogus
opt_err bad-since 'podsentry observe: --since: "5x" is not a duration (e.g. 30s, 5m, 1h30m, 2d)' observe --since 5x
opt_err bad-since-zero 'podsentry observe: --since: "0s" is not a duration (e.g. 30s, 5m, 1h30m, 2d)' observe --since 0s
opt_err bad-severity 'podsentry observe: --severity: "urgent" is not info, low, medium, high or critical' observe --severity urgent
opt_err bad-output 'podsentry observe: --output: "yaml" is not compact or json' observe -o yaml
opt_err bad-type 'podsentry observe: --type: "flow,Alert" is not a comma-separated list of record types' observe --type flow,Alert
opt_err unknown-command 'podsentry: "obsrve" is not a command (observe, pods, alerts, status, report)' obsrve
opt_err no-command 'podsentry: a command is needed (observe, pods, alerts, status, report)'
opt_err extra-argument 'podsentry status: unexpected argument "now"' status now
opt_err global-unknown 'podsentry: --bogus: unknown option or missing argument' --bogus status
"$PS" observe --help | grep -q '^Usage: podsentry observe' && "$PS" pods --help | grep -q '^Usage: podsentry pods' &&
	"$PS" help alerts | grep -q '^Usage: podsentry alerts' && "$PS" --help | grep -q '^Examples:' &&
	"$PS" report --help | grep -q '^Usage: podsentry report' &&
	ok help/per-command || fail help/per-command "$("$PS" observe --help 2>&1 | head -n 2)"
v=$("$PS" --version)
[[ "$v" =~ ^podsentry\ [0-9.]+\ \(commit\ [0-9a-z-]+,\ bpf\ [0-9a-f]{16}\)$ ]] &&
	[ "${v#podsentry }" = "$("$PODSENTRYD" --version | sed 's/^podsentryd //')" ] &&
	ok version || fail version "$v"

# --- the daemon and the pods
dmesg_before=$(dmesg 2>/dev/null | wc -l)
daemon_start --state-dir "$STATE" --flow-idle 1 --flow-update 1 || { fail setup "daemon"; exit 1; }
cni_conflist
IPC=$(pod_add c shop client) && IPS=$(pod_add s shop server) && IPO=$(pod_add o web other) ||
	{ fail setup "cni add: $(cat "$T"/*.cni)"; exit 1; }
# no IPv6 on the host side either: no router solicitations or MLD
# reports into the pods (flows that would come at any time)
for ns in c s o; do sysctl -qw "net.ipv6.conf.$(host_veth $P$ns).disable_ipv6=1"; done
sysctl -qw "net.ipv6.conf.$BR.disable_ipv6=1" 2>/dev/null
mkdir -p "$T/www"
echo hello >"$T/www/index.html"
ip netns exec ${P}s busybox httpd -f -p 8080 -h "$T/www" &
wait_for 5 sh -c "ip netns exec ${P}s busybox netstat -ltn | grep -q ':8080 '" ||
	{ fail setup "no server on 8080"; exit 1; }
st=$(stat -c '%a %F' "$SOCK")
[ "$st" = "600 socket" ] && ok socket/mode-0600 || fail socket/mode-0600 "$st"

# status: the daemon answers and its programs are in place
ps_ status -o json >"$T/status.json"
rc=$?
if [ $rc = 0 ] && jqe '.type == "status" and .ok == true and .programs_total >= 10 and
	.programs_ok == .programs_total and (.maps | map(.name) | index("flows4") != null) and
	.ringbuf.size > 0 and .api.max_clients == 16' <"$T/status.json" &&
	[ "$(jq -r .version "$T/status.json")" = "$(cat "$PS_ROOT/VERSION")" ] &&
	[ "$(jq .pid "$T/status.json")" = "$DAEMON_PID" ]; then
	ok status/json
else
	fail status/json "rc $rc: $(cut -c1-400 "$T/status.json")"
fi
ps_ status >"$T/status.txt"
rc=$?
[ $rc = 0 ] && grep -q '^podsentryd .* on node .*, pid '"$DAEMON_PID" "$T/status.txt" &&
	grep -Eq '^programs: +([0-9]+) of \1 in place' "$T/status.txt" && grep -q '^ring buffer:' "$T/status.txt" &&
	grep -q '^lost: ' "$T/status.txt" && ok status/text || fail status/text "rc $rc: $(cat "$T/status.txt")"

# --- the scenario: N connections client -> server, 2 from the other
# namespace's pod, then nc in the client pod (network-tool-in-pod)
get="timeout 5 busybox wget -q -O /dev/null http://$IPS:8080/"
for i in $(seq $N); do ip netns exec ${P}c $get; done
for i in 1 2; do ip netns exec ${P}o $get; done
ip netns exec ${P}c busybox nc -w 1 127.0.0.1 9 </dev/null
flows_to() { # POD: final flow records from POD to server:8080
	jq -c --arg p "$1" 'select(.type=="flow" and .flow.final and .flow.dst.port==8080 and
		.flow.src.pod.name==$p)' "$E" | grep -c .
}
wait_for 15 sh -c "[ \$(jq -c 'select(.type==\"flow\" and .flow.final and .flow.dst.port==8080)' $E | grep -c .) = $((N + 2)) ]" &&
	wait_for 10 has_record '.type=="alert" and .alert.rule=="network-tool-in-pod"' &&
	ok scenario/recorded || fail scenario/recorded "client $(flows_to client), other $(flows_to other), alerts $(records alert | grep -c .)"
# the last flows end (idle 1 s), then nothing else happens: the export
# stays as it is for 3 s
quiet() {
	local n=-1 m i
	for i in $(seq 40); do
		m=$(stat -c %s "$E")
		[ "$m" = "$n" ] && return 0
		n=$m
		sleep 3
	done
	return 1
}
quiet || fail scenario/quiet "the export keeps growing: $(tail -n 2 "$E" | cut -c1-200)"
lines=$(grep -c . "$E")
[ "$lines" -lt 4096 ] && [ "$(stat -c %s "$E")" -lt $((2 << 20)) ] ||
	fail scenario/fits-the-ring "$lines lines: more than the daemon keeps for replay"

# same QUERY_ARGS... -- JQ: observe with the options returns exactly the
# export's records that the jq filter selects, in the same order
jq_pods='[.pod, .flow.src.pod, .flow.dst.pod, .socket.src.pod, .socket.dst.pod | select(. != null)]'
jq_bins='[.process.binary, .flow.src.process.binary, .flow.dst.process.binary | select(. != null)]'
same() { # NAME JQ OBSERVE_ARGS...
	local name=$1 filter=$2 n
	shift 2
	jq -c "select($filter)" "$E" >"$T/want.$name"
	ps_ observe -o json "$@" >"$T/got.$name" 2>"$T/err.$name"
	local rc=$?
	n=$(grep -c . "$T/want.$name")
	# the daemon's lines are the export's bytes: compare them as jq prints them
	if [ $rc = 0 ] && [ "$n" -gt 0 ] && diff -q <(jq -c . "$T/got.$name") "$T/want.$name" >/dev/null; then
		ok "observe/$name"
	else
		fail "observe/$name" "rc $rc, want $n lines, got $(grep -c . "$T/got.$name"): $(diff <(jq -c . "$T/got.$name" 2>&1) "$T/want.$name" | head -n 4 | cut -c1-200) $(cat "$T/err.$name")"
	fi
}
same all 'true'
same by-pod "$jq_pods | any(.namespace==\"shop\" and .name==\"client\")" --pod shop/client
same by-pod-name "$jq_pods | any(.name==\"server\")" --pod server
same by-namespace "$jq_pods | any(.namespace==\"web\")" --namespace web
same by-type '.type=="flow" or .type=="alert"' --type flow,alert
same by-type-exec '.type=="process_exec"' -t process_exec
same by-rule '.type=="alert" and .alert.rule=="network-tool-in-pod"' --rule network-tool-in-pod
same by-severity '.type=="alert" and .alert.severity=="low"' --severity low
same by-process "$jq_bins | any(split(\"/\") | last == \"busybox\")" --process busybox
same combined ".type==\"flow\" and ($jq_pods | any(.namespace==\"shop\" and .name==\"server\"))" --type flow --pod shop/server
same since-1h 'true' --since 1h
n=$(ps_ observe --severity high | grep -c .)
[ "$n" = 0 ] && ok observe/severity-above || fail observe/severity-above "$n lines for high with only a low alert"
n=$(ps_ observe --since 500ms --type flow,alert,process_exec,process_exit | grep -c .)
[ "$n" = 0 ] && ok observe/since-recent || fail observe/since-recent "$n records of the last 500 ms, after 3 s of quiet"

# the compact view: one line per record, the pods and the peer
ps_ observe --type flow --pod shop/client >"$T/compact.txt"
n=$(grep -c . "$T/compact.txt")
want=$(jq -c "select(.type==\"flow\" and ($jq_pods | any(.namespace==\"shop\" and .name==\"client\")))" "$E" | grep -c .)
if [ "$n" = "$want" ] && [ "$(grep -c "^[A-Z][a-z][a-z] [0-9][0-9] [0-9:.]*  shop/client  flow  busybox([0-9]*) -> shop/server:8080 tcp  out [0-9.]* [KM]*i*B in [0-9.]* [KM]*i*B  closed forwarded$" "$T/compact.txt")" = "$N" ]; then
	ok compact/flow-lines
else
	fail compact/flow-lines "$n lines, want $want: $(head -n 3 "$T/compact.txt")"
fi
n=$(ps_ observe --type flow --namespace web | grep -c '  web/other  flow  busybox([0-9]*) -> shop/server:8080 tcp  ')
[ "$n" = 2 ] && ok compact/flow-peer-named || fail compact/flow-peer-named "$(ps_ observe --type flow --namespace web | head -n 2)"
ps_ observe --type alert >"$T/alert.txt"
grep -q '  shop/client  ALERT low network-tool-in-pod  ' "$T/alert.txt" && ! grep -q $'\033' "$T/alert.txt" &&
	ok compact/alert-no-color-off-terminal || fail compact/alert-no-color-off-terminal "$(cat -v "$T/alert.txt")"
script -qec "$PS --socket $SOCK observe --type alert" /dev/null >"$T/tty.txt" 2>&1
NO_COLOR=1 script -qec "$PS --socket $SOCK observe --type alert" /dev/null >"$T/nocolor.txt" 2>&1
grep -q $'\033\[1;33mALERT low network-tool-in-pod' "$T/tty.txt" && grep -q 'ALERT low' "$T/nocolor.txt" &&
	! grep -q $'\033' "$T/nocolor.txt" && ok compact/color-on-terminal-unless-NO_COLOR ||
	fail compact/color-on-terminal-unless-NO_COLOR "tty: $(cat -v "$T/tty.txt" | head -c 300); NO_COLOR: $(cat -v "$T/nocolor.txt" | head -c 300)"

# --- --file: the same filters, without the daemon
for f in "by-pod:--pod shop/client" "by-rule:--rule network-tool-in-pod" "by-type:--type flow,alert"; do
	name=${f%%:*}
	# shellcheck disable=SC2086
	"$PS" --socket "$T/none.sock" observe -o json --file "$E" ${f#*:} >"$T/file.$name"
	cmp -s "$T/file.$name" "$T/want.$name" && ok "file/$name" ||
		fail "file/$name" "$(diff "$T/file.$name" "$T/want.$name" | head -n 3 | cut -c1-200)"
done
{ head -n 2 "$E"; echo 'not json'; sed -n 3p "$E"; } >"$T/bad.json"
out=$("$PS" observe -o json --file "$T/bad.json" 2>"$T/bad.err")
rc=$?
[ $rc = 1 ] && [ "$(grep -c . <<<"$out")" = 3 ] &&
	[ "$(cat "$T/bad.err")" = "podsentry observe: $T/bad.json: line 3: not a JSON object" ] &&
	ok file/bad-line-said-and-skipped || fail file/bad-line-said-and-skipped "rc $rc, $(grep -c . <<<"$out") lines, $(cat "$T/bad.err")"

# --- pods: the three, with their netns, veth and connections
ps_ pods -o json >"$T/pods.json"
why=
for p in "c shop client" "s shop server" "o web other"; do
	set -- $p
	want_flows=$(jq -s --arg p "$3" '[.[] | select(.type=="flow" and .flow.final == true and
		(.flow.src.pod.name==$p or .flow.dst.pod.name==$p)) | (.flow.connections // 1)] | add // 0' "$E")
	got=$(jq -c --arg ns "$2" --arg n "$3" 'select(.pod.namespace==$ns and .pod.name==$n) |
		[.netns, .veth, .flows, .pending]' "$T/pods.json")
	want="[$(netns_ino $P$1),\"$(host_veth $P$1)\",$want_flows,false]"
	[ "$got" = "$want" ] || why+="$3: got $got, want $want; "
done
want_alerts=$(jq -s '[.[] | select(.type=="alert" and .alert.status=="open" and .pod.name=="client")] | length' "$E")
[ "$(jq -c 'select(.pod.name=="client") | .alerts' "$T/pods.json")" = "$want_alerts" ] ||
	why+="client alerts: $(jq -c 'select(.pod.name=="client") | .alerts' "$T/pods.json"), want $want_alerts; "
[ -z "$why" ] && [ "$(grep -c . "$T/pods.json")" = 3 ] && ok pods/json || fail pods/json "$why $(cat "$T/pods.json")"
ps_ pods >"$T/pods.txt"
head -n 1 "$T/pods.txt" | grep -q '^NAMESPACE  *NAME  *NETNS  *VETH  *FLOWS  *ALERTS  *STATE$' &&
	grep -Eq "^shop +client +$(netns_ino ${P}c) +$(host_veth ${P}c) +$(jq 'select(.pod.name=="client") | .flows' "$T/pods.json") +1 +attached$" "$T/pods.txt" &&
	[ "$(grep -c . "$T/pods.txt")" = 4 ] && ok pods/table || fail pods/table "$(cat "$T/pods.txt")"

# --- alerts: the open one, with its chain
ps_ alerts -o json >"$T/alerts.json"
id=$(records alert | jq -r 'select(.alert.rule=="network-tool-in-pod") | .alert.id' | head -n 1)
jqe --arg id "$id" '.type=="open_alert" and .id==$id and .rule=="network-tool-in-pod" and
	.severity=="low" and .pod=="shop/client" and .record.alert.id==$id and
	(.record.ancestry | length) >= 1' <"$T/alerts.json" && [ "$(grep -c . "$T/alerts.json")" = 1 ] &&
	ok alerts/json || fail alerts/json "$(cut -c1-300 "$T/alerts.json")"
ps_ alerts >"$T/alerts.txt"
grep -q '^low network-tool-in-pod  shop/client' "$T/alerts.txt" && grep -q "^  id $id, 1 time, " "$T/alerts.txt" &&
	grep -q '^  chain:$' "$T/alerts.txt" &&
	grep -Eq '^    [0-9]+\. busybox nc -w 1 127\.0\.0\.1 9  \(pid [0-9]+.*, the alert.s process\)$' "$T/alerts.txt" &&
	ok alerts/block-with-chain || fail alerts/block-with-chain "$(cat "$T/alerts.txt")"

# --- --follow: two clients at once see a record made after they started
# (run as "$PS", not through ps_: $! is then the client's pid)
"$PS" --socket "$SOCK" observe --follow -o json --type process_exec --pod shop/client >"$T/f1" 2>"$T/f1.err" &
F1=$!
"$PS" --socket "$SOCK" observe --follow --pod shop/client >"$T/f2" 2>"$T/f2.err" &
F2=$!
following() { [ "$(ps_ status -o json | jq .api.following)" = 2 ]; }
wait_for 5 following || fail follow/subscribed "$(ps_ status -o json | jq -c .api)"
ip netns exec ${P}c /bin/sh -c 'exec /bin/echo follow-marker' >/dev/null
marker() { grep -q 'follow-marker' "$1"; }
if wait_for 5 marker "$T/f1" && wait_for 5 marker "$T/f2"; then
	ok follow/two-clients-see-new-record
else
	fail follow/two-clients-see-new-record "f1: $(cat "$T/f1" "$T/f1.err" | head -c 300); f2: $(cat "$T/f2" "$T/f2.err" | head -c 300)"
fi
# only what came after: the first line is the marker's exec, and
# every line is a process_exec of the client pod
jqe -s 'length >= 1 and (.[0].process.args | join(" ") | contains("follow-marker")) and
	all(.type=="process_exec" and .pod.name=="client")' <"$T/f1" && grep -q '  shop/client  exec  echo(' "$T/f2" &&
	ok follow/from-now-filtered || fail follow/from-now-filtered "$(head -c 400 "$T/f1")"
kill $F1 $F2; wait $F1 $F2 2>/dev/null

# --- a client that stops reading: thousands of records; the daemon, the
# export and another client go on; the slow one is told what it lost
cat >"$T/slow.py" <<'EOF'
import json, socket, sys, time
sock, burst, ready, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_UNIX)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sock)
s.sendall(json.dumps({"op": "observe", "follow": True, "types": ["process_exec"],
                      "pod": "shop/client", "process": "true"}).encode() + b"\n")
open(ready, "w").close()
import os
while not os.path.exists(go):  # not reading until told
    time.sleep(0.1)
got = lost = lost_lines = 0
buf = b""
s.settimeout(20)
while got + lost < burst:
    d = s.recv(65536)
    if not d:
        break
    buf += d
    *lines, buf = buf.split(b"\n")
    for l in lines:
        o = json.loads(l)
        if o.get("type") == "lost":
            lost += o["count"]
            lost_lines += 1
            assert o["lost"]["reason"] == "api_client_backlog", o
        elif o.get("type") == "process_exec":
            got += 1
print(got, lost, lost_lines)
EOF
python3 "$T/slow.py" "$SOCK" $BURST "$T/slow.ready" "$T/slow.go" >"$T/slow.out" 2>"$T/slow.err" &
SLOW=$!
wait_for 5 test -e "$T/slow.ready"
"$PS" --socket "$SOCK" observe --follow -o json --type process_exec --process true >"$T/fast" &
FAST=$!
wait_for 5 sh -c "[ \"\$($PS --socket $SOCK status -o json | jq .api.following)\" = 2 ]" ||
	fail slow/subscribed "$(ps_ status -o json | jq -c .api)"
t0=$(date +%s%N)
ip netns exec ${P}c /bin/sh -c "i=0; while [ \$i -lt $BURST ]; do /bin/true; i=\$((i + 1)); done"
true_execs() { jq -c 'select(.type=="process_exec" and .pod.name=="client" and (.process.binary | endswith("/true")))' "$1" 2>/dev/null | grep -c .; }
at_least() { [ "$(true_execs "$1")" -ge "$2" ]; } # FILE N
wait_for 30 at_least "$E" $BURST
exported=$(true_execs "$E")
wait_for 10 at_least "$T/fast" "$exported"
fast=$(true_execs "$T/fast")
secs=$(( ($(date +%s%N) - t0) / 1000000000 ))
[ "$exported" = $BURST ] && ok slow/export-complete || fail slow/export-complete "export has $exported of $BURST execs"
[ "$fast" = "$exported" ] && ok slow/other-client-complete || fail slow/other-client-complete "fast client $fast, export $exported"
dropped=$(ps_ status -o json | jq .api.dropped)
[ "$dropped" -gt 0 ] 2>/dev/null && ok slow/dropped-and-counted || fail slow/dropped-and-counted "api.dropped $dropped (burst in $secs s)"
touch "$T/slow.go"
wait $SLOW
read -r got lost lost_lines <"$T/slow.out"
if [ "${got:-0}" -gt 0 ] && [ "${lost:-0}" -gt 0 ] && [ $((got + lost)) = "$exported" ] && [ "$lost" = "$dropped" ]; then
	ok slow/told-what-it-lost
else
	fail slow/told-what-it-lost "got ${got:-?} + lost ${lost:-?} (in ${lost_lines:-?} lines), export $exported, dropped $dropped: $(cat "$T/slow.err")"
fi
kill $FAST; wait $FAST 2>/dev/null

# --- at most 16 clients; the 17th is told
no_clients() { [ "$(ps_ status -o json | jq .api.clients)" = 1 ]; } # itself
wait_for 5 no_clients || fail api/clients-gone "$(ps_ status -o json | jq -c .api)"
cat >"$T/many.py" <<'EOF'
import socket, sys
socks, n = [], 0
for i in range(20):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(b'{"op":"observe","follow":true}\n')
    s.settimeout(0.2)
    try:
        d = s.recv(4096)
    except socket.timeout:
        d = None
    # a live record (a periodic stats one) may reach a follower first
    if d is not None and b'"type":"error"' in d:
        print(n, d.decode().strip())
        break
    socks.append(s)
    n += 1
EOF
out=$(python3 "$T/many.py" "$SOCK")
[ "$out" = '16 {"type":"error","error":"too many clients (16): try again later"}' ] &&
	ok api/bounded-clients || fail api/bounded-clients "$out"
# once they are gone, it answers again
wait_for 5 sh -c "$PS --socket $SOCK status >/dev/null" && ok api/serves-after-refusal ||
	fail api/serves-after-refusal "$(ps_ status 2>&1)"

# --- requests that are not right
req() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode()+b"\n"); print(s.makefile().read().strip())' "$SOCK" "$1"; }
[ "$(req '{"op":"observe","since":"soon"}')" = '{"type":"error","error":"\"since\" \"soon\" is not a duration (e.g. 30s, 5m, 1h30m, 2d)"}' ] &&
	[ "$(req 'hello')" = '{"type":"error","error":"the request is not one JSON object on a line"}' ] &&
	[ "$(req '{"op":"status","follow":true}')" = '{"type":"error","error":"status: unknown member \"follow\""}' ] &&
	ok api/bad-requests || fail api/bad-requests "$(req '{"op":"observe","since":"soon"}') $(req hello)"

# --- a second daemon on the socket: refused, the first unharmed
out=$("$PODSENTRYD" --bpffs "$BPFFS-2" --export /dev/null --state-file "$T/s2.json" --socket "$SOCK" 2>&1)
rc=$?
rm -rf "$BPFFS-2"
[ $rc = 1 ] && [ "$out" = "podsentryd: --socket $SOCK: another podsentryd answers there" ] &&
	ps_ status >/dev/null && ok socket/second-daemon-refused || fail socket/second-daemon-refused "rc $rc: $out"

# --- the seccomp filter refused no call of the API's (the kernel logs
# each refusal: audit type=1326 with the pid)
refused=$(dmesg 2>/dev/null | tail -n +$((dmesg_before + 1)) | grep 'type=1326' | grep " pid=$DAEMON_PID " | head -n 3)
grep -q 'seccomp enforce' "$T/daemon.log" && [ -z "$refused" ] && ok api/no-refused-calls ||
	fail api/no-refused-calls "$refused"

daemon_stop && ok daemon/clean-exit || fail daemon/clean-exit "$(tail -n 3 "$T/daemon.log")"
[ ! -e "$SOCK" ] && ok socket/removed-at-exit || fail socket/removed-at-exit "$(ls -l "$SOCK")"
out=$("$PS" --socket "$SOCK" alerts 2>&1)
[ $? = 1 ] && [ "$out" = "podsentry: cannot connect to $SOCK: No such file or directory (is podsentryd running? --socket PATH)" ] &&
	ok errors/daemon-gone || fail errors/daemon-gone "$out"

# --- a stale socket (a daemon killed with SIGKILL) is replaced; a missing
# folder is made 0750
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SOCK"
daemon_start --state-dir "$STATE" && ps_ status >/dev/null && ok socket/stale-replaced ||
	fail socket/stale-replaced "$(tail -n 3 "$T/daemon.log")"
daemon_stop
daemon_start --state-dir "$STATE" --socket "$T/new/run/api.sock" &&
	[ "$(stat -c %a "$T/new/run") $(stat -c %a "$T/new/run/api.sock")" = "750 600" ] &&
	"$PS" --socket "$T/new/run/api.sock" status >/dev/null &&
	ok socket/folder-made-0750 || fail socket/folder-made-0750 "$(stat -c '%n %a' "$T/new/run" "$T/new/run/api.sock" 2>&1)"
daemon_stop
: >"$T/not-a-socket"
out=$("$PODSENTRYD" --bpffs "$BPFFS" --export /dev/null --state-file "$T/s3.json" --socket "$T/not-a-socket" 2>&1)
[ $? = 1 ] && [ "$out" = "podsentryd: --socket $T/not-a-socket: exists and is not a socket" ] && [ -f "$T/not-a-socket" ] &&
	ok socket/not-a-socket-kept || fail socket/not-a-socket-kept "$out"
