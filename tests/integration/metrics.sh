#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The Prometheus endpoint, scraped by a real Prometheus: pods made by
# the real [bridge, podsentry-cni] chain, N known connections between
# two of them, one known alert (busybox nc in a pod), and the values
# Prometheus' query API returns must be what the daemon wrote in its
# export, counted with jq. The endpoint itself: HELP/TYPE lines,
# promtool's lint, label escaping (a pod name with '"' and '\'), the
# pod label bound (--metrics-pods 2 with three pods: the rest is
# pod="_other"), bad values and a busy port as precise errors, and no
# system call of the HTTP server refused by the seccomp filter.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"
N=5 # known connections client -> server:8080

for c in prometheus promtool curl; do
	command -v $c >/dev/null || { fail setup "$c is missing (make deps)"; exit 1; }
done

# free_port: a TCP port nothing on this machine listens on
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		[ -z "$(ss -Htln "sport = :$p")" ] && { echo $p; return; }
	done
}
MPORT=$(free_port)
PPORT=$(free_port)
while [ "$PPORT" = "$MPORT" ]; do PPORT=$(free_port); done

# --- bad values and a busy port: one precise line, exit status 2 or 1
badarg() { # NAME VALUE WANT
	local out rc
	out=$("$PODSENTRYD" --bpffs "$BPFFS" --export "$T/bad.out" --metrics "$2" 2>&1)
	rc=$?
	[ $rc = 2 ] && [ "$(head -n 1 <<<"$out")" = "podsentryd: --metrics: \"$2\": $3" ] &&
		ok "option/$1" || fail "option/$1" "rc $rc, stderr '$out', want '$3'"
}
badarg no-port 127.0.0.1 'not ADDR:PORT (e.g. 127.0.0.1:9464)'
badarg port-zero 127.0.0.1:0 'port "0" is not a number from 1 to 65535'
badarg port-big 127.0.0.1:65536 'port "65536" is not a number from 1 to 65535'
badarg host-name localhost:9464 '"localhost" is not an IPv4 address (IPv6: [ADDR]:PORT)'
badarg v6-brackets '[::1]9464' 'an IPv6 address is written [ADDR]:PORT'
badarg v6-bad '[::g]:9464' '"::g" is not an IPv6 address'
out=$("$PODSENTRYD" --bpffs "$BPFFS" --metrics-pods 0 2>&1)
[ $? = 2 ] && [ "$(head -n 1 <<<"$out")" = 'podsentryd: --metrics-pods: "0" is not a number from 1 to 100000' ] &&
	ok option/metrics-pods-zero || fail option/metrics-pods-zero "$out"
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', $MPORT)); s.listen(); time.sleep(30)" &
busy=$!
wait_for 5 sh -c "[ -n \"\$(ss -Htln 'sport = :$MPORT')\" ]"
out=$("$PODSENTRYD" --bpffs "$BPFFS" --export "$T/bad.out" --state-file "$T/bad-state.json" \
	--metrics 127.0.0.1:$MPORT 2>&1)
rc=$?
kill $busy; wait $busy 2>/dev/null
[ $rc = 1 ] && [ "$out" = "podsentryd: --metrics 127.0.0.1:$MPORT: the port is in use: Address already in use" ] &&
	[ ! -e "$BPFFS/pods" ] && ok option/port-in-use || fail option/port-in-use "rc $rc: $out"

# --- the daemon, its pods, Prometheus
dmesg_before=$(dmesg 2>/dev/null | wc -l)
daemon_start --state-dir "$STATE" --log-dir "$T/logs" --flow-idle 1 --flow-update 1 \
	--metrics 127.0.0.1:$MPORT --metrics-pods 2 || { fail setup "daemon"; exit 1; }
cni_conflist
SRV='web"1\b' # a pod name the label values must escape
pod_add() { # NAME NAMESPACE POD: prints its IP
	local ns=$P$1
	ip netns add "$ns" && ip -n "$ns" link set lo up &&
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 &&
		cni_add "$ns" "$ns" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=$2;K8S_POD_NAME=$3" >"$T/$1.cni" ||
		return 1
	jq -r '.ips[0].address' "$T/$1.cni" | cut -d/ -f1
}
# pod_init NAME: the pod's first process, running the command files
# pod_run leaves for it (so a command is a process tree of the pod)
pod_init() {
	mkdir -p "$T/cmd/$1"
	ip netns exec "$P$1" sh -c "cd $T/cmd/$1; while :; do for f in *.sh; do
		[ -e \"\$f\" ] && { sh \"\$f\" >\"\$f.out\" 2>&1; mv \"\$f\" \"\$f.done\"; }; done; sleep 0.05; done" &
}
n_cmd=0
pod_run() { # NAME CMD
	n_cmd=$((n_cmd + 1))
	echo "$2" >"$T/cmd/$1/c$n_cmd.tmp" && mv "$T/cmd/$1/c$n_cmd.tmp" "$T/cmd/$1/c$n_cmd.sh"
	wait_for 20 test -e "$T/cmd/$1/c$n_cmd.sh.done"
}
# the third pod comes after the others had their flows: it is the one
# past the bound
IPC=$(pod_add c shop client) && IPS=$(pod_add s shop "$SRV") ||
	{ fail setup "cni add: $(cat "$T"/*.cni)"; exit 1; }
mkdir -p "$T/www"
echo hello >"$T/www/index.html"
ip netns exec ${P}s busybox httpd -f -p 8080 -h "$T/www" &
pod_init c
wait_for 5 sh -c "ip netns exec ${P}s busybox netstat -ltn | grep -q ':8080 '" ||
	{ fail setup "no server on 8080"; exit 1; }

cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: podsentryd
    static_configs:
      - targets: ["127.0.0.1:$MPORT"]
EOF
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
	--web.listen-address=127.0.0.1:$PPORT --log.level=warn >"$T/prometheus.log" 2>&1 &
PROM=$!
trap 'kill $PROM 2>/dev/null; wait $PROM 2>/dev/null; daemon_stop' EXIT

# promq QUERY: the value of the query's one result, "none" when it has
# none, "many" when it has several
promq() {
	curl -s --max-time 5 "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" |
		jq -r 'if .status != "success" then "error"
			elif (.data.result | length) == 0 then "none"
			elif (.data.result | length) > 1 then "many"
			else .data.result[0].value[1] end' 2>/dev/null
}
# prom_is QUERY WANT: Prometheus comes to return WANT (scrapes are 1 s
# apart) within 15 s; else the last value is in $got
prom_is() {
	local i
	for i in $(seq 60); do
		got=$(promq "$1")
		[ "$got" = "$2" ] && return 0
		sleep 0.25
	done
	return 1
}
prom_is 'up{job="podsentryd"}' 1 && ok prometheus/scrapes-the-daemon ||
	fail prometheus/scrapes-the-daemon "up is $got; $(tail -n 5 "$T/prometheus.log")"

# --- the scenario: N connections client -> server, then one from the
# third pod, then nc in the client pod (network-tool-in-pod)
get="timeout 5 busybox wget -q -O /dev/null http://$IPS:8080/"
pod_run c "for i in \$(seq $N); do $get; done"
wait_for 10 sh -c "[ \$(jq -c 'select(.type==\"flow\" and .flow.final and .flow.dst.port==8080 and
	.flow.src.pod.name==\"client\")' $T/export.json | grep -c .) = $N ]" &&
	ok scenario/client-connections-recorded ||
	fail scenario/client-connections-recorded "$(records flow | grep -c 8080) flow records to 8080"
IPX=$(pod_add x shop third) || { fail setup "cni add: $(cat "$T"/x.cni)"; exit 1; }
pod_init x
pod_run x "$get"
pod_run c "busybox nc -w 1 127.0.0.1 9 </dev/null"
wait_for 10 has_record '.type=="flow" and .flow.final and .flow.src.pod.name=="third"' &&
	wait_for 10 has_record '.type=="alert" and .alert.rule=="network-tool-in-pod"' &&
	ok scenario/third-pod-and-alert-recorded ||
	fail scenario/third-pod-and-alert-recorded "$(records alert | jq -c .alert)"
# the command loops exec all the time: they stop, so the figures do
for ns in ${P}c ${P}x; do ip netns pids $ns | xargs -r kill; done
# nothing else ends now: flows are idle for 1 s at most, so the records
# stop within seconds; wait until none came for 1.5 s
flows_now() { grep -c '"type":"flow"' "$T/export.json"; }
sleep 1.5
prev=-1
for i in $(seq 20); do
	n=$(flows_now)
	[ "$n" = "$prev" ] && break
	prev=$n
	sleep 1.5
done

# what the daemon wrote, counted with jq
E=$T/export.json
jcount() { jq -s "$1" "$E"; }
want_flow=$(jcount '[.[] | select(.type=="flow")] | length')
want_exec=$(jcount '[.[] | select(.type=="process_exec")] | length')
want_alert=$(jcount '[.[] | select(.type=="alert" and .alert.rule=="network-tool-in-pod" and
	.alert.severity=="low" and .alert.status=="open")] | length')
pod_conns() { # POD NAME: connections of the pod's flow records (both ends count)
	jq -s --arg p "$1" '[.[] | select(.type=="flow" and .flow.final == true and
		(.flow.src.pod.name==$p or .flow.dst.pod.name==$p)) | (.flow.connections // 1)] | add // 0' "$E"
}

if prom_is 'podsentry_records_total{type="flow"}' "$want_flow" && [ "$want_flow" -ge $((N + 1)) ]; then
	ok prometheus/flow-records-as-exported
else
	fail prometheus/flow-records-as-exported "prometheus $got, export $want_flow"
fi
prom_is 'podsentry_records_total{type="process_exec"}' "$want_exec" && [ "$want_exec" -gt 0 ] &&
	ok prometheus/exec-records-as-exported ||
	fail prometheus/exec-records-as-exported "prometheus $got, export $want_exec"
prom_is 'podsentry_alerts_total{rule="network-tool-in-pod",severity="low"}' "$want_alert" &&
	[ "$want_alert" = 1 ] && ok prometheus/alert-per-rule-as-exported ||
	fail prometheus/alert-per-rule-as-exported "prometheus $got, export $want_alert"

# connections per pod: the first two pods that had a flow are named, the
# rest is pod="_other"; each named pod's value is what its records say
named=$(curl -s "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode \
	'query=podsentry_flows_total{pod!="_other"}' | jq -c '[.data.result[].metric.pod] | sort')
why=
for pod in client "$SRV" third; do
	want=$(pod_conns "$pod")
	if jq -e --arg p "$pod" 'index($p)' <<<"$named" >/dev/null; then
		q="podsentry_flows_total{namespace=\"shop\",pod=$(jq -n --arg p "$pod" '$p')}"
		prom_is "$q" "$want" || why+="$pod: prometheus $got, export $want; "
	else
		other=$(( ${other:-0} + want ))
	fi
done
if [ "$(jq length <<<"$named")" = 2 ] && jq -e 'index("client")' <<<"$named" >/dev/null &&
	[ "$(pod_conns client)" -ge $N ] && [ -z "$why" ] &&
	prom_is 'podsentry_flows_total{pod="_other"}' "${other:-0}" && [ "${other:-0}" -ge 1 ]; then
	ok prometheus/flows-per-pod-as-exported
else
	fail prometheus/flows-per-pod-as-exported "named $named; $why _other: prometheus $got, export ${other:-0}"
fi
jq -e --arg s "$SRV" 'index($s)' <<<"$named" >/dev/null &&
	ok prometheus/label-value-escaped || fail prometheus/label-value-escaped "named $named, want \"$SRV\""

# the daemon's memory and CPU as /proc says
rss=$(promq 'process_resident_memory_bytes')
proc_rss=$(( $(awk '{print $2}' /proc/$DAEMON_PID/statm) * $(getconf PAGESIZE) ))
if [[ "$rss" =~ ^[0-9]+$ ]] && [ "$rss" -gt $((1 << 20)) ] && [ "$rss" -lt $((512 << 20)) ] &&
	[ "$rss" -gt $((proc_rss / 2)) ] && [ "$rss" -lt $((proc_rss * 2)) ]; then
	ok prometheus/resident-memory-plausible
else
	fail prometheus/resident-memory-plausible "prometheus $rss, /proc $proc_rss"
fi
cpu=$(promq 'process_cpu_seconds_total')
proc_cpu=$(awk -v t="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / t }' /proc/$DAEMON_PID/stat)
awk -v a="$cpu" -v b="$proc_cpu" 'BEGIN { exit !(a > 0 && a <= b + 0.01) }' &&
	ok prometheus/cpu-seconds-plausible || fail prometheus/cpu-seconds-plausible "prometheus $cpu, /proc $proc_cpu"
# the CNI attachments: three pods, all attached
prom_is 'podsentry_cni_attachments{state="attached"}' 3 && ok prometheus/cni-attached ||
	fail prometheus/cni-attached "prometheus $got; $(ls "$STATE")"
ent=$(promq 'podsentry_map_entries{map="pods"}')
[ "$ent" = "$(map_count pods)" ] && [ "$ent" -ge 3 ] && ok prometheus/map-fill ||
	fail prometheus/map-fill "prometheus $ent, bpftool $(map_count pods)"

# --- the endpoint as it is: format, lint, label bounds
curl -s -D "$T/metrics.head" -o "$T/metrics.txt" "http://127.0.0.1:$MPORT/metrics"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/metrics.head" &&
	ok endpoint/content-type || fail endpoint/content-type "$(cat "$T/metrics.head")"
# every sample's family has HELP and TYPE before it, once, and its
# samples together
why=$(awk '
	/^# HELP / { if (help[$3]++) print "two HELP for " $3; next }
	/^# TYPE / { if (type[$3]++) print "two TYPE for " $3; cur = $3; next }
	/^#/ || /^$/ { next }
	{ n = $1; sub(/\{.*/, "", n); f = n
	  if (!(f in type)) sub(/_(bucket|sum|count)$/, "", f)
	  if (!(f in type) || !(f in help)) print n " without HELP/TYPE"
	  else if (f != cur) print n " apart from its family" }' "$T/metrics.txt" | head -n 3)
[ -z "$why" ] && [ "$(grep -c '^# TYPE ' "$T/metrics.txt")" -ge 20 ] && ok endpoint/help-and-type ||
	fail endpoint/help-and-type "$why"
out=$(promtool check metrics <"$T/metrics.txt" 2>&1) && ok endpoint/promtool-lint ||
	fail endpoint/promtool-lint "$out"
pods=$(grep -c '^podsentry_flows_total{' "$T/metrics.txt")
[ "$pods" = 3 ] && grep -q '^podsentry_flows_total{namespace="shop",pod="web\\"1\\\\b"} ' "$T/metrics.txt" &&
	ok endpoint/pod-labels-bounded || fail endpoint/pod-labels-bounded "$(grep '^podsentry_flows_total' "$T/metrics.txt")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/")
code2=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "http://127.0.0.1:$MPORT/metrics")
[ "$code" = 404 ] && [ "$code2" = 405 ] && ok endpoint/other-paths-and-methods ||
	fail endpoint/other-paths-and-methods "/ $code, POST $code2"

# --- HTTP as clients other than Prometheus speak it (a raw socket each):
# persistent connections and pipelining, HTTP/1.0, HEAD, bounds
curl -s -o /dev/null -o /dev/null -w '%{num_connects} %{http_code}\n' \
	"http://127.0.0.1:$MPORT/metrics" "http://127.0.0.1:$MPORT/metrics?x=1" >"$T/reuse.txt"
[ "$(tr '\n' ' ' <"$T/reuse.txt")" = "1 200 0 200 " ] && ok http/curl-reuses-the-connection ||
	fail http/curl-reuses-the-connection "$(cat "$T/reuse.txt")"
python3 - "$MPORT" >"$T/http.txt" 2>&1 <<'EOF'
import re, socket, sys, time
port = int(sys.argv[1])

def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s

def read_all(s, limit=8):
    data, end = b"", time.time() + limit
    while time.time() < end:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            return data, "reset"
        except socket.timeout:
            return data, "open"
        if not b:
            return data, "closed"
        data += b
    return data, "open"

def answers(data):
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            out.append(("partial", head))
            break
        status = int(head.split(b" ")[1])
        m = re.search(rb"(?i)content-length: *(\d+)", head)
        n = int(m.group(1)) if m else 0
        head_only = getattr(answers, "head_next", [])
        body_len = 0 if head_only and head_only.pop(0) else n
        out.append((status, head, rest[:body_len], n))
        data = rest[body_len:]
    return out

def say(name, good, why=""):
    print(name, "ok" if good else "fail " + why)

# three requests in one write: GET, HEAD, a 404 that asks to close
s = conn()
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"
          b"HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n"
          b"GET /other HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
data, how = read_all(s)
answers.head_next = [False, True, False]
a = answers(data)
codes = [x[0] for x in a]
good = (codes == [200, 200, 404] and how == "closed" and len(a[0][2]) == a[0][3] > 1000
        and a[0][2].startswith(b"# HELP") and a[1][3] > 1000
        and b"connection: close" in a[2][1].lower())
say("http/pipelined-in-order", good, "%s %s %s" % (codes, how, [x[3:] for x in a]))

# HTTP/1.0: one answer, then the server closes
s = conn()
s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
data, how = read_all(s)
say("http/1.0-closes", data.startswith(b"HTTP/1.1 200 ") and how == "closed", "%r %s" % (data[:40], how))

# not HTTP, a header line without a colon, a head over 8 KiB
for name, req, code in (("http/not-http", b"hello there\r\n\r\n", 400),
                        ("http/bad-header", b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", 400),
                        ("http/head-too-large", b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000, 431)):
    s = conn()
    try:
        s.sendall(req)
    except ConnectionResetError:
        pass
    data, how = read_all(s)
    say(name, data.startswith(b"HTTP/1.1 %d " % code) and how == "closed", "%r %s" % (data[:60], how))

# POST with a body: 405, and the answer is not lost to a reset
s = conn()
s.sendall(b"POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 70000\r\n\r\n" + b"x" * 70000)
data, how = read_all(s)
say("http/post-405-whole", data.startswith(b"HTTP/1.1 405 ") and b"allow: get, head" in data.lower()
    and how == "closed", "%r %s" % (data[:60], how))

# bounds: 8 connections of one peer (Prometheus may hold one more); the
# 9th is closed at once, and a scrape works again once they are gone
held = [conn() for _ in range(8)]
time.sleep(0.5)
extra = conn()
data, how = read_all(extra, 3)
say("http/per-peer-bound", data == b"" and how in ("closed", "reset"), "%r %s" % (data[:60], how))
for h in held:
    h.close()
time.sleep(1.5)
s = conn()
s.sendall(b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
data, how = read_all(s)
say("http/serves-after-bound", data.startswith(b"HTTP/1.1 200 "), "%r %s" % (data[:60], how))

# a head never finished: closed after the idle limit (10 s)
s = conn()
s.settimeout(15)
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: a\r\n")
t0 = time.time()
data, how = read_all(s, 15)
took = time.time() - t0
say("http/idle-closed", data == b"" and how == "closed" and 9 <= took <= 13, "%r %s %.1fs" % (data[:60], how, took))
EOF
while read -r name res why; do
	[ "$res" = ok ] && ok "$name" || fail "$name" "$res $why"
done <"$T/http.txt"
[ "$(grep -c . "$T/http.txt")" = 9 ] || fail http/all-ran "$(tail -n 5 "$T/http.txt")"
# refused: the 9th, and more when Prometheus held one of the 8 places
got=$(curl -s "http://127.0.0.1:$MPORT/metrics" | awk '/^podsentry_metrics_http_errors_total/ {printf "%s %s,", $1, $2}')
[[ "$got" =~ ^'podsentry_metrics_http_errors_total{reason="refused"} '[1-9][0-9]*,'podsentry_metrics_http_errors_total{reason="timeout"} 1,podsentry_metrics_http_errors_total{reason="bad_request"} 3,'$ ]] &&
	ok http/errors-counted || fail http/errors-counted "$got"

# the HTTP server made no system call the filter refuses (enforce mode;
# the kernel logs each refusal: audit type=1326 with the pid)
refused=$(dmesg 2>/dev/null | tail -n +$((dmesg_before + 1)) | grep 'type=1326' | grep " pid=$DAEMON_PID " | head -n 3)
grep -q 'seccomp enforce' "$T/daemon.log" && [ -z "$refused" ] && ok seccomp/no-refused-calls ||
	fail seccomp/no-refused-calls "$refused"

daemon_stop && ok daemon/clean-exit || fail daemon/clean-exit "$(tail -n 3 "$T/daemon.log")"
