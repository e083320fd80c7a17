#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# podsentry report in a real headless browser. The demo story (the real
# daemon, pods through the [bridge, podsentry-cni] chain, the exploit)
# writes its report; Chromium loads it without errors, and the rendered
# DOM has the pods, the lateral-movement alert and its chain (httpd →
# hello → sh → nc → sh → wget → elastic:9200), and a screenshot is made.
# Then hostile names: a pod named <script>alert(1)</script> whose
# process has an <img onerror> argument, through the real chain and
# daemon: the page shows them as text and has no script element. Bad
# input gets a precise error.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"
report() { "$B/podsentry" report "$@"; }

for c in chromium python3; do
	command -v $c >/dev/null || { fail setup "$c is missing (make deps)"; exit 1; }
done

# chrome NAME FILE.html: dump the DOM to $T/NAME.dom, a screenshot to
# $T/NAME.png, the browser's console and errors to $T/NAME.log
chrome() {
	local args=(--headless --no-sandbox --disable-gpu --disable-background-networking
		--disable-component-update --no-first-run --user-data-dir="$T/chr-$1"
		--enable-logging=stderr --v=0)
	timeout 90 chromium "${args[@]}" --dump-dom "file://$2" >"$T/$1.dom" 2>"$T/$1.log"
	timeout 90 chromium "${args[@]}" --screenshot="$T/$1.png" --window-size=1400,2000 \
		"file://$2" >/dev/null 2>>"$T/$1.log"
}
# dom NAME PYTHON: run a check over the rendered DOM: `doc` is the list
# of (tag, attrs, text-inside) for every element, `text` all the text;
# the expression must be true
dom() {
	python3 - "$T/$1.dom" "$2" <<'PY'
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.doc, self.stack, self.text = [], [], []
    def handle_starttag(self, tag, attrs):
        e = [tag, dict(attrs), []]
        self.doc.append(e)
        if tag not in ("meta", "br", "img", "input", "link", "hr"):
            self.stack.append(e)
    def handle_endtag(self, tag):
        while self.stack:
            e = self.stack.pop()
            if e[0] == tag:
                break
    def handle_data(self, d):
        self.text.append(d)
        for e in self.stack:
            e[2].append(d)
p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
doc = [(t, a, "".join(x)) for t, a, x in p.doc]
text = "".join(p.text)
def inside(tag, cls):
    return [x for t, a, x in doc if t == tag and cls in a.get("class", "").split()]
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)
PY
}
png_ok() { # FILE: a PNG of 1400x2000 with more than a blank page in it
	python3 - "$1" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
ok = b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR"
w, h = struct.unpack(">II", b[16:24]) if ok else (0, 0)
sys.exit(0 if ok and (w, h) == (1400, 2000) and len(b) > 20000 else 1)
PY
}
# no_errors NAME: the console stayed silent: no uncaught error, no load
# or inline script the page's Content-Security-Policy blocked, no failed
# fetch (the page runs no script of its own, so any message is wrong)
no_errors() {
	! grep -E ':CONSOLE|Uncaught|Content Security Policy|Failed to load resource' "$T/$1.log"
}

# --- bad input
printf '{"type":"stats"}\n{"type": \n' >"$T/bad.json"
out=$(report --file "$T/bad.json" -o "$T/bad.html" 2>&1)
[ $? = 1 ] && [ "$out" = "podsentry report: $T/bad.json: line 2: unexpected end of data" ] &&
	[ ! -s "$T/bad.html" ] && ok input/not-json || fail input/not-json "$out"
out=$(report --file "$T/none.json" -o "$T/none.html" 2>&1)
[ $? = 1 ] && [ "$out" = "podsentry report: $T/none.json: No such file or directory" ] &&
	ok input/missing-file || fail input/missing-file "$out"
out=$(report -o "$T/x.html" 2>&1)
[ $? = 2 ] && [ "$out" = "podsentry report: --file is required (podsentry report --file EXPORT -o REPORT.html)" ] &&
	ok input/file-required || fail input/file-required "$out"

# --- the demo story and its report
DEMO=$T/demo
DEMO_OUT=$DEMO "$PS_ROOT/deploy/demo.sh" >"$T/demo.out" 2>&1
rc=$?
[ $rc = 0 ] && grep -qxF "Report (service map, the alert's chain and timeline): $DEMO/report.html" "$T/demo.out" &&
	[ -s "$DEMO/report.html" ] && ok demo/writes-report ||
	{ fail demo/writes-report "exit $rc: $(tail -n 5 "$T/demo.out")"; exit 1; }
chrome demo "$DEMO/report.html"
out=$(no_errors demo) && ok demo/loads-without-errors || fail demo/loads-without-errors "$out"
png_ok "$T/demo.png" && ok demo/screenshot || fail demo/screenshot "$(ls -l "$T/demo.png" 2>&1)"
# the map: an SVG drawn by Graphviz with the three pods, the alerted
# edge web -> elastic:9200 in the table
dom demo 'any(t == "svg" for t, a, x in doc) and all(
	any(t == "text" and x == "demo/" + p for t, a, x in doc) for p in ("web", "attacker", "elastic"))' &&
	ok demo/map-has-the-pods || fail demo/map-has-the-pods "$(grep -o 'demo/[a-z]*' "$T/demo.dom" | sort | uniq -c)"
dom demo 'any("demo/web" in x and "demo/elastic" in x and "tcp/9200" in x and "alert" in x
	and "sensitive port" in x for t, a, x in doc if t == "tr")' &&
	ok demo/alerted-sensitive-edge || fail demo/alerted-sensitive-edge "no web -> elastic:9200 row"
# the alert: its rule, and its chain in the order it ran
dom demo '[x for x in inside("article", "alert") if "lateral-movement" in x][0].find("critical") >= 0' &&
	ok demo/alert-rule || fail demo/alert-rule "no critical lateral-movement article"
dom demo 'all(s in [x for x in inside("article", "alert") if "lateral-movement" in x][0] for s in
	("busybox httpd", "/bin/sh hello", "busybox nc", "busybox wget", "pod demo/elastic",
	 "container\u0027s first process", "foothold: reverse-shell"))' &&
	ok demo/alert-chain || fail demo/alert-chain "$(grep -c 'class="alert' "$T/demo.dom") alert articles"
# the chain graph's nodes, first process to the target, in drawing order
dom demo '(lambda c: [c.find(s) for s in ("busybox httpd", "hello", "busybox nc", "busybox wget", "pod demo/elastic")] ==
	sorted(c.find(s) for s in ("busybox httpd", "hello", "busybox nc", "busybox wget", "pod demo/elastic")) and
	c.find("busybox httpd") >= 0)([x for t, a, x in doc if t == "div" and "chain" in a.get("class", "")
	and "busybox wget" in x][0])' && ok demo/chain-in-order || fail demo/chain-in-order "chain out of order"
dom demo 'any(t == "table" and "timeline" in a.get("class", "") and "connection" in x and
	"10." in x and "foothold" in x for t, a, x in doc)' &&
	ok demo/timeline || fail demo/timeline "no timeline with the foothold and the connections"
dom demo 'not any(t == "script" for t, a, x in doc)' && ok demo/no-script ||
	fail demo/no-script "a script element"

# --- hostile names, through the real chain and daemon
HOST='<script>alert(1)</script>'
ARG='<img src=x onerror=alert(2)>'
daemon_start --state-dir "$STATE" --flow-idle 1 --flow-update 1 || { fail setup "daemon"; exit 1; }
cni_conflist
pod_add() { # NAME NAMESPACE POD: prints its IP
	local ns=$P$1
	ip netns add "$ns" && ip -n "$ns" link set lo up &&
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 &&
		cni_add "$ns" "$ns" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=$2;K8S_POD_NAME=$3" >"$T/$1.cni" ||
		return 1
	jq -r '.ips[0].address' "$T/$1.cni" | cut -d/ -f1
}
IPH=$(pod_add h evil "$HOST") && IPS=$(pod_add s evil server) ||
	{ fail setup "cni add: $(cat "$T"/*.cni)"; exit 1; }
mkdir -p "$T/www" && echo hi >"$T/www/index.html"
ip netns exec ${P}s busybox httpd -f -p 8080 -h "$T/www" &
wait_for 5 sh -c "ip netns exec ${P}s busybox netstat -ltn | grep -q ':8080 '"
# the pod's first process starts the rest: a connection, then nc
ip netns exec ${P}h sh -c "timeout 5 busybox wget -q -O /dev/null http://$IPS:8080/;
	busybox nc -w 1 127.0.0.1 9 '$ARG' </dev/null; sleep 3" &
wait_for 15 has_record ".type==\"alert\" and .pod.name==\"$HOST\"" &&
	wait_for 10 has_record ".type==\"flow\" and .flow.final and .flow.src.pod.name==\"$HOST\"" ||
	{ fail setup "no alert and flow of the hostile pod: $(records alert | jq -c .alert.rule)"; }
daemon_stop
report --file "$T/export.json" -o "$T/hostile.html" || fail hostile/report "exit $?"
chrome hostile "$T/hostile.html"
dom hostile 'not any(t in ("script", "img", "iframe", "object") for t, a, x in doc) and
	not any(k.startswith("on") for t, a, x in doc for k in a)' &&
	ok hostile/no-element-from-names || fail hostile/no-element-from-names "$(grep -o '<script[^>]*>\|<img[^>]*>' "$T/hostile.dom" | head -3)"
dom hostile "text.count('evil/$HOST') >= 3 and '$ARG' in text" &&
	ok hostile/names-shown-as-text || fail hostile/names-shown-as-text "$(grep -c 'evil/' "$T/hostile.dom")"
grep -qF 'evil/&lt;script&gt;alert(1)&lt;/script&gt;' "$T/hostile.html" &&
	ok hostile/escaped-in-file || fail hostile/escaped-in-file "no escaped name in the file"
out=$(no_errors hostile) && ok hostile/loads-without-errors || fail hostile/loads-without-errors "$out"
png_ok "$T/hostile.png" && ok hostile/screenshot || fail hostile/screenshot "$(ls -l "$T/hostile.png" 2>&1)"
