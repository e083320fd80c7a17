#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Hostile bytes end to end: a pod made by the real [bridge, podsentry-cni]
# chain whose K8S_POD_NAMESPACE and K8S_POD_NAME hold bytes that are not
# UTF-8, control characters and a newline; in it, real processes with an
# argv that is not UTF-8, a binary under a path with such bytes and
# control characters, a cwd that is not UTF-8, an argument of 600 bytes
# of 2-byte characters that the 511-byte limit cuts mid-character, and a
# network tool under such a path (an alert). Every line of the export,
# the pod log and the alerts file must be one strict UTF-8 JSON object;
# the escaped forms must decode back to the original bytes; the pod log's
# file name must be safe and read back to the pod's names.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"

# POD_NS: C3 28 (a lead byte without its continuation), ESC, newline.
# POD_NAME: FF FE, a newline, a leading dot's twin in the middle, '%'.
POD_NS=$'hostile\xc3(\x1b[1m\nns'
POD_NAME=$'web\xff\xfe\n..%2F/x'
WEIRD=$T/bin$'\x01\x1b[7m\n\xff\xc0\xafdir'
CWD_BAD=$T/cwd$'\xfe\x80\xed\xa0\x80x'
PORT=5201

mkdir -p "$WEIRD" "$CWD_BAD" "$T/expect"
cp /bin/bash "$WEIRD/bash" && cp /bin/busybox "$WEIRD/nc" ||
	{ fail setup "copy binaries"; exit 1; }

daemon_start --state-dir "$STATE" --log-dir "$T/logs" --alerts "$T/alerts.json" \
	--flow-idle 1 --flow-update 1 --records all || { fail setup "daemon"; exit 1; }
cni_conflist
NA=$(netns_add a) && NB=$(netns_add b) || { fail setup "netns"; exit 1; }
for ns in "$NA" "$NB"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
done
cni_add "${P}ca" "$NA" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=$POD_NS;K8S_POD_NAME=$POD_NAME;K8S_POD_UID=uid-h" \
	>"$T/a.json" 2>"$T/a.err" &&
	cni_add "${P}cb" "$NB" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=plain;K8S_POD_NAME=server" >"$T/b.json" ||
	{ fail setup "cni add: $(cat "$T/a.json" "$T/a.err" "$T/b.json")"; exit 1; }
IPB=$(jq -r '.ips[0].address' "$T/b.json" | cut -d/ -f1)
# the names as they reached the daemon: what the plugin wrote in the
# pod's state file (read with the bytes kept, not as JSON text)
STATEF=$(state_file "${P}ca")
[ -f "$STATEF" ] || { fail setup "no state file $STATEF"; exit 1; }

ip netns exec "$NB" bash -c "while :; do busybox nc -l -p $PORT </dev/null >/dev/null; done" &
SERVER=$!
wait_for 5 sh -c "ip netns exec $NB ss -ltn | grep -q :$PORT" || { fail setup "server"; exit 1; }

# --- the processes, their exact bytes kept in $T/expect
# (true at the end: bash would exec the last command, and the exit
# record would be another exec's)
CONNECT="exec 3<>/dev/tcp/$IPB/$PORT; echo x >&3; sleep 0.2; true"
A_ARGV=("$WEIRD/bash" -c "$CONNECT" $'argv\xff\xfe\x01' $'back\\slash\xc0\xaf' $'\xf4\x90\x80\x80end')
printf '%s' "$WEIRD/bash" >"$T/expect/a.binary"
printf '%s\0' "${A_ARGV[@]}" >"$T/expect/a.args"
printf '%s' "$CWD_BAD" >"$T/expect/a.cwd"
ip netns exec "$NA" bash -c 'cd "$1" && shift && exec "$@"' _ "$CWD_BAD" "${A_ARGV[@]}"

# B: bash -c SCRIPT LONG with 600 bytes of "é"; the kernel keeps 511
# bytes of the argument vector: SCRIPT is padded so that an odd number
# of LONG's bytes is kept, cutting its last character in two
LONG=$(printf 'é%.0s' $(seq 300))
SCRIPT="exec 3<>/dev/tcp/$IPB/$PORT;echo x>&3;sleep 0.2"
while :; do
	kept=$((511 - 5 - 3 - ${#SCRIPT} - 1))
	[ $((kept % 2)) = 1 ] && break
	SCRIPT="$SCRIPT "
done
printf '%s\0' bash -c "$SCRIPT" "$(printf 'é%.0s' $(seq $((kept / 2))))" >"$T/expect/b.args"
ip netns exec "$NA" bash -c "$SCRIPT" "$LONG"

# C: a network tool under the weird path: an alert naming it
printf '%s' "$WEIRD/nc" >"$T/expect/c.binary"
ip netns exec "$NA" "$WEIRD/nc" -w 1 "$IPB" "$PORT" </dev/null >/dev/null 2>&1

# everything is in once C's connect, B's flow and the alert are
wait_for 15 sh -c "grep -aq '\"type\":\"alert\"' $T/alerts.json &&
	[ \$(grep -ac '\"type\":\"flow\"' $T/export.json) -ge 3 ]"
sleep 1.5
kill "$SERVER" 2>/dev/null
daemon_stop

LOGF=$(find "$T/logs" -name '*.log' -newer "$STATEF" -print0 | tr '\0' '\n' |
	grep -v "/plain/" | head -n 1)

# check_py MODE ARGS: the checks, on bytes (the interpreter itself, not
# a wrapper script that may stand for it on PATH: it runs a dozen times)
PY=$(python3 -c 'import sys; print(sys.executable)')
check_py() {
	"$PY" - "$@" <<'PY'
import json, urllib.parse, os, sys

mode, *args = sys.argv[1:]

def lines(path):
    with open(path, 'rb') as f:
        return f.read().split(b'\n')

def parse_all(path):
    """(records of valid lines, [problems])"""
    recs, bad = [], []
    data = lines(path)
    if data and data[-1] == b'':
        data.pop()
    else:
        bad.append('no newline at the end')
    for i, raw in enumerate(data, 1):
        t = None
        try:
            text = raw.decode('utf-8', errors='strict')
            o = json.loads(text)
            if not isinstance(o, dict):
                raise ValueError('not an object')
            recs.append(o)
        except Exception as e:
            try:
                t = json.loads(raw.decode('utf-8', errors='surrogateescape')).get('type')
            except Exception:
                t = '?'
            bad.append('line %d (%s): %s' % (i, t, type(e).__name__))
    return recs, bad

def unescape(s):
    """the bytes an escaped value stands for: \\\\ one backslash, \\xNN the byte"""
    out, i = bytearray(), 0
    while i < len(s):
        if s[i] != '\\':
            out += s[i].encode('utf-8')
            i += 1
        elif s[i + 1] == '\\':
            out += b'\\'
            i += 2
        elif s[i + 1] == 'x':
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
        else:
            raise ValueError('bad escape at %d' % i)
    return bytes(out)

def value(o, key):
    """the bytes of o[key], decoded when flagged <key>_escaped"""
    v = o[key]
    esc = o.get(key + '_escaped') is True
    if isinstance(v, list):
        return [unescape(x) if esc else x.encode('utf-8') for x in v], esc
    return (unescape(v) if esc else v.encode('utf-8')), esc

def expect(name):
    with open(os.path.join(os.environ['T'], 'expect', name), 'rb') as f:
        return f.read()

def procs(recs):
    """every process object with the record type it is in"""
    for r in recs:
        for k in ('process', 'opener'):
            if isinstance(r.get(k), dict):
                yield r.get('type'), r[k]
        for a in r.get('ancestry') or []:
            yield r.get('type'), a

def state_names():
    # a name that is not text is in KEYRaw (percent-encoded), its display
    # form in KEY (cni/shared/state.h)
    with open(args[0], 'rb') as f:
        st = json.loads(f.read().decode('utf-8', errors='strict'))
    pod = st.get('pod') or {}
    def exact(key):
        if pod.get(key + 'NotText'):
            return urllib.parse.unquote_to_bytes(pod[key + 'Raw'])
        return pod.get(key, '').encode('utf-8')
    return exact('namespace'), exact('name')

def report(ok, msg):
    print('OK' if ok else 'FAIL ' + msg)

if mode == 'lines':  # FILE: every line strict UTF-8 and one JSON object
    recs, bad = parse_all(args[0])
    report(not bad and recs, '%d of %d lines bad: %s' % (len(bad), len(recs) + len(bad), '; '.join(bad[:6])))
elif mode == 'process':  # FILE NAME TYPES: process NAME by its expected bytes in each record type
    recs, _ = parse_all(args[0])
    name, types = args[1], args[2].split(',')
    have = lambda f: os.path.exists(os.path.join(os.environ['T'], 'expect', name + f))
    want_bin = expect(name + '.binary') if have('.binary') else None
    want_args = expect(name + '.args').split(b'\0')[:-1] if have('.args') else None
    want_cwd = expect(name + '.cwd') if have('.cwd') else None
    seen, wrong = set(), []
    for t, p in procs(recs):
        try:
            b, besc = value(p, 'binary')
            a, aesc = value(p, 'args')
        except (KeyError, ValueError):
            continue
        # the process: by its binary, or (b) by its first arguments
        if want_bin is not None and b != want_bin:
            continue
        if want_bin is None and a[:3] != want_args[:3]:
            continue
        if want_args is not None and a != want_args:
            wrong.append('%s: args %r' % (t, a))
            continue
        if want_bin is not None and not besc:
            wrong.append('%s: binary not flagged binary_escaped' % t)
            continue
        if want_cwd is not None and 'cwd' in p:  # the brief form has none
            c, cesc = value(p, 'cwd')
            if c != want_cwd or not cesc:
                wrong.append('%s: cwd %r escaped %s' % (t, c, cesc))
                continue
        # a cut argument is text cut short: not escaped, but truncated
        if want_bin is None and (aesc or ('uid' in p and p.get('args_truncated') is not True)):
            wrong.append('%s: args_escaped %s args_truncated %s' % (t, aesc, p.get('args_truncated')))
            continue
        seen.add(t)
    missing = [t for t in types if t not in seen]
    report(not missing and not wrong, 'no valid record naming it of type %s; wrong: %s' % (','.join(missing) or '-', '; '.join(wrong[:4]) or '-'))
elif mode == 'pod':  # STATEFILE FILE TYPES: the pod's names decode to what the state file holds
    ns, nm = state_names()
    recs, _ = parse_all(args[1])
    seen, wrong = set(), []
    for r in recs:
        p = r.get('pod')
        if not isinstance(p, dict) or 'name' not in p or p.get('name') in ('server',):
            continue
        try:
            gn, gesc = value(p, 'name')
            gs, sesc = value(p, 'namespace')
        except ValueError as e:
            wrong.append('%s: %s' % (r.get('type'), e))
            continue
        if (gs, gn) != (ns, nm) or not gesc or not sesc:
            wrong.append('%s: %r/%r flags %s %s' % (r.get('type'), gs, gn, sesc, gesc))
            continue
        seen.add(r.get('type'))
    missing = [t for t in args[2].split(',') if t not in seen]
    report(not missing and not wrong, 'no valid record of type %s names the pod; wrong: %s' % (','.join(missing) or '-', '; '.join(wrong[:4]) or '-'))
elif mode == 'state':  # STATEFILE: the plugin kept the bytes it was given
    ns, nm = state_names()
    want_ns = os.environ['POD_NS'].encode('utf-8', errors='surrogateescape')
    want_nm = os.environ['POD_NAME'].encode('utf-8', errors='surrogateescape')
    report((ns, nm) == (want_ns, want_nm), 'state file has %r/%r, CNI_ARGS had %r/%r' % (ns, nm, want_ns, want_nm))
elif mode == 'filename':  # STATEFILE LOGDIR: a safe file name that reads back to the names
    ns, nm = state_names()
    logdir = args[1].encode()
    def pct(b):
        out, i = bytearray(), 0
        while i < len(b):
            if b[i:i + 1] == b'%':
                out.append(int(b[i + 1:i + 3], 16))
                i += 3
            else:
                out.append(b[i])
                i += 1
        return bytes(out)
    found, unsafe = None, []
    for root, dirs, files in os.walk(logdir):
        for n in dirs + files:
            if any(c < 0x20 or c == 0x7f for c in n) or n in (b'.', b'..') or n.startswith(b'.'):
                unsafe.append(n)
            try:
                n.decode('utf-8', errors='strict')
            except UnicodeDecodeError:
                unsafe.append(n)
        for n in files:
            if n.endswith(b'.log') and pct(os.path.basename(root)) == ns and pct(n[:-4]) == nm:
                found = os.path.join(root, n)
    report(found and not unsafe, 'file %r, unsafe names %r, entries %r' % (found, unsafe, [os.path.join(r, n) for r, d, f in os.walk(logdir) for n in d + f]))
PY
}
export T POD_NS POD_NAME

# what reaches the daemon is what the plugin wrote: the checks below
# take the names from its state file; a plugin that changed them is noted
x=$(check_py state "$STATEF")
[ "$x" = OK ] || echo "note: podsentry-cni changed the names: ${x#FAIL }" >&2

# every line of each output: strict UTF-8 (iconv and python) and one object (jq)
for out in export:"$T/export.json" podlog:"$LOGF" alerts:"$T/alerts.json"; do
	name=${out%%:*} f=${out#*:}
	if [ ! -s "$f" ]; then
		fail "$name/lines-utf8-json" "no such file or empty: '$f' ($(ls -R "$T/logs" | tr '\n' ' '))"
		continue
	fi
	x=$(check_py lines "$f")
	iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>"$T/iconv.err" || x="FAIL iconv: $(cat "$T/iconv.err") ${x#OK}"
	n=$(jq -c 'select(type != "object")' "$f" 2>&1 | wc -l)
	[ "$n" = 0 ] || x="FAIL jq: $n values not objects or errors ${x#OK}"
	[ "$x" = OK ] && ok "$name/lines-utf8-json" || fail "$name/lines-utf8-json" "${x#FAIL }"
done

# the escaped forms decode back to the original bytes, in each kind of
# record that names the process
x=$(check_py process "$T/export.json" a process_exec,process_exit,connect,flow)
[ "$x" = OK ] && ok argv-binary-cwd/export-decodes || fail argv-binary-cwd/export-decodes "${x#FAIL }"
x=$(check_py process "$LOGF" a process_exec,connect)
[ "$x" = OK ] && ok argv-binary-cwd/podlog-decodes || fail argv-binary-cwd/podlog-decodes "${x#FAIL }"
x=$(check_py process "$T/export.json" b process_exec,connect)
[ "$x" = OK ] && ok args-cut/last-char-trimmed || fail args-cut/last-char-trimmed "${x#FAIL }"
x=$(check_py process "$T/alerts.json" c alert)
[ "$x" = OK ] && ok alerts/binary-decodes || fail alerts/binary-decodes "${x#FAIL }"
x=$(check_py pod "$STATEF" "$T/export.json" process_exec,connect,flow)
[ "$x" = OK ] && ok pod/names-decode || fail pod/names-decode "${x#FAIL }"
x=$(check_py pod "$STATEF" "$T/alerts.json" alert)
[ "$x" = OK ] && ok alerts/pod-names-decode || fail alerts/pod-names-decode "${x#FAIL }"
x=$(check_py filename "$STATEF" "$T/logs")
[ "$x" = OK ] && ok podlog/file-name-safe-and-reversible || fail podlog/file-name-safe-and-reversible "${x#FAIL }"

cni_del "${P}ca" "$NA" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=$POD_NS;K8S_POD_NAME=$POD_NAME;K8S_POD_UID=uid-h" >/dev/null
cni_del "${P}cb" "$NB" >/dev/null
