# SPDX-License-Identifier: GPL-2.0-only
# (tests/run.sh runs every tests/cni/*.sh: run directly, this file checks
# what the CNI tests need, see the end.)
# CNI helpers for shell tests: a conflist [bridge + host-local,
# podsentry-cni] named after the test prefix, and the plugin chain run
# exactly as a runtime (libcni) runs it: each plugin gets its own entry
# plus the list's name and cniVersion, ADD passes each result on as the
# next plugin's prevResult, DEL runs the list backwards with the cached
# result, CHECK runs it forwards with the cached result, GC gets
# cni.dev/valid-attachments. Source after tests/lib.sh.

[ "${BASH_SOURCE[0]}" = "$0" ] && . "$(dirname "$0")/../lib.sh"
CNI_BIN_PATH=${CNI_BIN_PATH:-/usr/lib/cni:$B}
NET=${P}net
BR=${P}br
STATE=$T/state
CNI_CACHE=$T/cni-cache
mkdir -p "$CNI_CACHE"
# A /24 nobody else on this machine is likely to use.
SUBNET_PFX=10.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))
SUBNET=$SUBNET_PFX.0/24

# cni_conflist [PODSENTRY_JSON] [WITH_PODSENTRY=1]: write $T/net.conflist
# and set CONFLIST. PODSENTRY_JSON is merged into podsentry-cni's entry.
cni_conflist() {
	local extra=${1:-"{}"} with=${2:-1}
	CONFLIST=$T/net.conflist
	jq -n --arg name "$NET" --arg br "$BR" --arg subnet "$SUBNET" \
		--arg bpffs "$BPFFS" --arg state "$STATE" \
		--arg log "$T/cni.log" --argjson extra "$extra" --argjson with "$with" '{
		cniVersion: "1.0.0", name: $name,
		plugins: ([{type: "bridge", bridge: $br, isGateway: true,
			ipam: {type: "host-local", subnet: $subnet,
				dataDir: (env.T + "/ipam")}}] +
			(if $with == 1 then [{type: "podsentry-cni", bpffs: $bpffs,
				stateDir: $state, logFile: $log} + $extra]
			 else [] end))
	}' > "$CONFLIST"
}

# cni_plugin_conf INDEX [PREV_RESULT_FILE]: the config plugin INDEX gets
cni_plugin_conf() {
	local i=$1 prev=${2:-}
	if [ -n "$prev" ] && [ -s "$prev" ]; then
		jq -c --argjson i "$i" --slurpfile prev "$prev" \
			'.plugins[$i] + {name: .name, cniVersion: .cniVersion,
			 prevResult: $prev[0]}' "$CONFLIST"
	else
		jq -c --argjson i "$i" \
			'.plugins[$i] + {name: .name, cniVersion: .cniVersion}' "$CONFLIST"
	fi
}

cni_plugin_count() { jq '.plugins | length' "$CONFLIST"; }
cni_plugin_type() { jq -r --argjson i "$1" '.plugins[$i].type' "$CONFLIST"; }

# cni_exec CMD TYPE CID NETNS IFNAME ARGS: run one plugin binary with
# the config on stdin; its stdout is the result or the error.
cni_exec() {
	local cmd=$1 type=$2 cid=$3 netns=$4 ifname=$5 args=$6 d bin=
	for d in ${CNI_BIN_PATH//:/ }; do
		[ -x "$d/$type" ] && { bin=$d/$type; break; }
	done
	[ -n "$bin" ] || { echo "{\"code\":999,\"msg\":\"plugin $type not found\"}"; return 1; }
	env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" \
		CNI_NETNS="$netns" CNI_IFNAME="$ifname" CNI_ARGS="$args" \
		CNI_PATH="$CNI_BIN_PATH" "$bin"
}

# cni_add CID NETNS_NAME [IFNAME] [CNI_ARGS]: ADD through the list; the
# final result is printed and cached in $CNI_CACHE/CID-IFNAME.json. Every
# intermediate result is kept as .../CID-IFNAME.N.json.
cni_add() {
	local cid=$1 ns=$2 ifname=${3:-eth0} args=${4:-IgnoreUnknown=1} i n prev= out rc
	n=$(cni_plugin_count)
	for ((i = 0; i < n; i++)); do
		out=$(cni_plugin_conf $i "$prev" | cni_exec ADD "$(cni_plugin_type $i)" \
			"$cid" "/run/netns/$ns" "$ifname" "$args")
		rc=$?
		if [ $rc != 0 ]; then
			echo "$out"
			echo "cni_add: $(cni_plugin_type $i) ADD failed ($rc): $out" >&2
			return $rc
		fi
		prev=$CNI_CACHE/$cid-$ifname.$i.json
		echo "$out" > "$prev"
	done
	cp "$prev" "$CNI_CACHE/$cid-$ifname.json"
	cat "$prev"
}

# cni_del CID NETNS_NAME|"" [IFNAME] [CNI_ARGS]: DEL backwards with the
# cached result (if any); all plugins run even when one fails.
cni_del() {
	local cid=$1 ns=$2 ifname=${3:-eth0} args=${4:-IgnoreUnknown=1} i n out rc=0 netns=
	local cache=$CNI_CACHE/$cid-$ifname.json
	[ -n "$ns" ] && netns=/run/netns/$ns
	n=$(cni_plugin_count)
	for ((i = n - 1; i >= 0; i--)); do
		if ! out=$(cni_plugin_conf $i "$cache" | cni_exec DEL "$(cni_plugin_type $i)" \
			"$cid" "$netns" "$ifname" "$args"); then
			echo "cni_del: $(cni_plugin_type $i) DEL failed: $out" >&2
			echo "$out"
			rc=1
		fi
	done
	[ $rc = 0 ] && rm -f "$CNI_CACHE/$cid-$ifname".*
	return $rc
}

# cni_check CID NETNS_NAME [IFNAME]: CHECK forwards; prints the failing
# plugin's error.
cni_check() {
	local cid=$1 ns=$2 ifname=${3:-eth0} i n out
	local cache=$CNI_CACHE/$cid-$ifname.json
	n=$(cni_plugin_count)
	for ((i = 0; i < n; i++)); do
		if ! out=$(cni_plugin_conf $i "$cache" | cni_exec CHECK "$(cni_plugin_type $i)" \
			"$cid" "/run/netns/$ns" "$ifname" IgnoreUnknown=1); then
			echo "$out"
			return 1
		fi
	done
}

# cni_gc VALID_JSON: GC with cni.dev/valid-attachments (a JSON array of
# {containerID, ifname}) in a 1.1.0 config, for every plugin that speaks
# 1.1.0 (the reference plugins here stop at 1.0.0).
cni_gc() {
	local valid=$1 i n out
	n=$(cni_plugin_count)
	for ((i = 0; i < n; i++)); do
		echo '{"cniVersion":"1.1.0"}' | cni_exec VERSION "$(cni_plugin_type $i)" "" "" "" "" |
			jq -e '.supportedVersions | index("1.1.0")' >/dev/null 2>&1 || continue
		if ! out=$(cni_plugin_conf $i | jq -c --argjson v "$valid" \
			'. + {cniVersion: "1.1.0", "cni.dev/valid-attachments": $v}' |
			cni_exec GC "$(cni_plugin_type $i)" "" "" "" ""); then
			echo "$out"
			return 1
		fi
	done
}

# podsentry_run CMD CID NETNS_PATH IFNAME CONF_JSON: podsentry-cni alone
podsentry_run() {
	echo "$5" | cni_exec "$1" podsentry-cni "$2" "$3" "$4" "${6:-}"
}

# host_veth NETNS_NAME [IFNAME]: the host-side peer name of IFNAME
host_veth() {
	local idx
	idx=$(ip -n "$1" -j link show "${2:-eth0}" | jq -r '.[0].link_index')
	ip -j link show | jq -r --argjson i "$idx" '.[] | select(.ifindex == $i) | .ifname'
}

host_ifindex() { ip -j link show "$1" | jq -r '.[0].ifindex'; }

# tc_has_ours DEV ingress|egress: our filter (handle/prio 0x5053) with
# the named program is on DEV
tc_has_ours() {
	tc filter show dev "$1" "$2" 2>/dev/null | grep -q "pref 20563 bpf .*handle 0x5053 tc_$2"
}

# map_has MAP KEY_BYTES: bpftool finds the key in the pinned map
map_has() { bpftool map lookup pinned "$BPFFS/$1" key $2 >/dev/null 2>&1; }
map_count() { bpftool -j map dump pinned "$BPFFS/$1" 2>/dev/null | jq length; }
# ifindex_low IFINDEX: "slot netns" of the pod_ifindex_low entry ("0 0": none)
ifindex_low() {
	bpftool -j map lookup pinned "$BPFFS/pod_ifindex_low" key $(u32_bytes "$1") 2>/dev/null |
		jq -r '.formatted.value // .value | "\(.slot) \(.netns_ino)"'
}

# ip_key_bytes A.B.C.D: a struct ps_ip_key for an IPv4 address
ip_key_bytes() {
	local IFS=.
	# shellcheck disable=SC2086
	set -- $1
	echo "2 0 0 0 $1 $2 $3 $4 0 0 0 0 0 0 0 0 0 0 0 0"
}

# pod_stats_sum SLOT FIELD: the per-CPU counters of a slot, summed
pod_stats_sum() {
	bpftool -j map lookup pinned "$BPFFS/pod_stats" key $(u32_bytes "$1") 2>/dev/null |
		jq "[.formatted.values[].value.$2] | add // 0" 2>/dev/null || echo 0
}

# pod_stats_zero SLOT: the slot's counters are zero on every CPU (an array
# element is zeroed, not deleted)
pod_stats_zero() {
	bpftool -j map lookup pinned "$BPFFS/pod_stats" key $(u32_bytes "$1") 2>/dev/null |
		jqe '[.formatted.values[].value[]] | all(. == 0)'
}

# pod_stats_used: how many slots have a non-zero counter on some CPU
pod_stats_used() {
	bpftool -j map dump pinned "$BPFFS/pod_stats" 2>/dev/null |
		jq '[.[] | select([.formatted.values[].value[]] | any(. != 0))] | length'
}

state_file() { echo "$STATE/$1:${2:-eth0}.json"; }

# pins_make: load the pinned maps and programs the way podsentryd does,
# for tests that do not need the daemon itself (left pinned in $BPFFS).
pins_make() {
	mkdir -p "$BPFFS"
	bpftool prog loadall "$B/flow.bpf.o" "$BPFFS/.progs" pinmaps "$BPFFS" type tc >/dev/null 2>&1 ||
		bpftool prog loadall "$B/flow.bpf.o" "$BPFFS/.progs" pinmaps "$BPFFS"
	ln -f "$BPFFS/.progs/tc_ingress" "$BPFFS/prog_tc_ingress" 2>/dev/null ||
		bpftool prog pin pinned "$BPFFS/.progs/tc_ingress" "$BPFFS/prog_tc_ingress"
	bpftool prog pin pinned "$BPFFS/.progs/tc_egress" "$BPFFS/prog_tc_egress" 2>/dev/null
	bpftool prog pin pinned "$BPFFS/.progs/xdp_pod" "$BPFFS/prog_xdp" 2>/dev/null
	[ -e "$BPFFS/pods" ] && [ -e "$BPFFS/prog_tc_ingress" ] && [ -e "$BPFFS/prog_tc_egress" ]
}

# jqe JQ_ARGS... < JSON: true when the input is not empty and the filter's
# last output is true (jq 1.6 -e alone is true on empty input)
jqe() {
	local in
	in=$(cat)
	[ -n "$in" ] && jq -e "$@" <<<"$in" >/dev/null 2>&1
}

# Run as a test (not sourced): the prerequisites of the CNI tests.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	for t in bridge host-local; do
		check "reference_plugin_$t" test -x "/usr/lib/cni/$t"
	done
	v=$(echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION "$PODSENTRY_CNI")
	if jqe '.cniVersion == "1.0.0" and .supportedVersions ==
		["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]' <<<"$v"; then
		ok podsentry_cni_version
	else
		fail podsentry_cni_version "VERSION printed: $v"
	fi
fi
