#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# deploy/: the Kubernetes manifests parse, name only options podsentryd
# and install-cni.sh have (with their arguments), mount only host paths
# that an option uses or the README explains, and agree with each other,
# with the systemd unit and with the log shippers' configurations. Then
# they are run: the init container's install-cni.sh command chains
# podsentry-cni into a bridge conflist (twice: no change), podsentryd
# runs with the DaemonSet's arguments and only its capabilities, attaches
# a pod added while it was down and writes that pod's log where the
# shippers look, stops within the grace period, and uninstall.yaml's
# command restores the conflist. The systemd unit passes
# systemd-analyze verify and runs, hardening and all, under systemd.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"

K=$PS_ROOT/deploy/kubernetes
UNIT=$PS_ROOT/deploy/podsentryd.service
README=$PS_ROOT/README.md
INST=$PS_ROOT/deploy/cni/install-cni.sh

# every YAML document of a file as one JSON array
yaml_json() {
	/usr/bin/python3 -c 'import json, sys, yaml
print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))' "$1"
}

bad=
for f in $(find "$K" -name '*.yaml' | sort); do
	yaml_json "$f" > "$T/$(basename "$f" .yaml).json" 2>"$T/yaml.err" ||
		bad="$bad ${f#"$PS_ROOT"/}: $(tail -1 "$T/yaml.err")"
done
if [ -z "$bad" ] && [ -s "$T/daemonset.json" ]; then
	ok manifests_parse
else
	fail manifests_parse "$bad"
	exit 1
fi

# kustomization.yaml: every manifest but uninstall.yaml, and only those
want=$(cd "$K" && ls *.yaml | grep -vx -e kustomization.yaml -e uninstall.yaml | sort)
got=$(jq -r '.[0].resources[]' "$T/kustomization.json" | sort)
check kustomization_lists_manifests [ "$want" = "$got" ]

POD='.[0].spec.template.spec'
daemon() { jq -c "$POD.containers[] | select(.name == \"podsentryd\")" "$T/daemonset.json"; }
init() { jq -c "$POD.initContainers[] | select(.name == \"$2\")" "$T/$1.json"; }

# option_spec HELP_TEXT: "--flag N" per option, N its number of arguments.
# podsentryd --help: "  --flag ARG   text" or "  --flag       text";
# install-cni.sh --help: its synopsis "[--flag ARG] [--flag]".
podsentryd_spec() {
	sed -nE 's/^  (-[a-z], )?(--[a-z0-9-]+)( [^ ]+)?.*/\2 \3/p' | awk '{ print $1, ($2 == "" ? 0 : 1) }'
}
install_cni_spec() {
	sed -n '/^  install-cni.sh \[/,/^$/p' | grep -oE -- '--[a-z-]+( [A-Z]+)?' |
		awk '{ print $1, ($2 == "" ? 0 : 1) }'
}
"$PODSENTRYD" --help | podsentryd_spec > "$T/podsentryd.spec"
"$INST" --help | install_cni_spec > "$T/install-cni.spec"

# args_check SPEC ARGS...: every --flag is in SPEC, followed by as many
# arguments as it takes; nothing else. Prints what is wrong.
args_check() {
	local spec=$1 a n; shift
	while [ $# -gt 0 ]; do
		a=${1%%=*}
		n=$(awk -v f="$a" '$1 == f { print $2 }' "$spec")
		if [ -z "$n" ]; then
			echo "\"$1\" is not an option"
			return 1
		fi
		if [ "$a" != "$1" ]; then
			[ "$n" = 1 ] || { echo "$a takes no argument"; return 1; }
			shift
			continue
		fi
		shift
		if [ "$n" = 1 ]; then
			if [ $# = 0 ] || [[ "$1" == --* ]]; then
				echo "$a: missing its argument"
				return 1
			fi
			shift
		fi
	done
}
args_ok() { # NAME SPEC ARGS...
	local name=$1 why; shift
	if why=$(args_check "$@"); then ok "$name"; else fail "$name" "$why"; fi
}

mapfile -t DARGS < <(daemon | jq -r '.args[]')
args_ok daemon_args_known "$T/podsentryd.spec" "${DARGS[@]}"
[ "$(daemon | jq -r '.command // empty')" = "" ] ||
	fail daemon_command "the container overrides the image's podsentryd entry point"

read -r -a UARGS <<<"$(sed -n 's/^ExecStart=@SBINDIR@\/podsentryd //p' "$UNIT")"
args_ok unit_args_known "$T/podsentryd.spec" "${UARGS[@]}"

mapfile -t ICMD < <(init daemonset install-cni | jq -r '.command[]')
mapfile -t UCMD < <(init uninstall uninstall-cni | jq -r '.command[]')
if [ "${ICMD[0]##*/}" = install-cni.sh ] && [ "${UCMD[0]##*/}" = install-cni.sh ]; then
	args_ok init_args_known "$T/install-cni.spec" "${ICMD[@]:1}"
	args_ok uninstall_args_known "$T/install-cni.spec" "${UCMD[@]:1}"
else
	fail init_runs_install_cni "commands: ${ICMD[0]} / ${UCMD[0]}"
fi

# Mounts: each names a volume of the pod; each volume is mounted; a host
# path the daemon mounts is used by one of its options or is in the
# README's table of host paths.
why=
for c in "$T/daemonset.json" "$T/uninstall.json"; do
	why+=$(jq -r "$POD as \$s | [\$s.volumes[].name] as \$v |
		[(\$s.initContainers // [])[], \$s.containers[]] as \$all |
		(\$all[] | .name as \$c | .volumeMounts[]? | select(.name as \$n | \$v | index(\$n) | not) |
			\"\(\$c) mounts undefined volume \(.name); \"),
		(\$s.volumes[] | .name as \$n | select([\$all[].volumeMounts[]?.name] | index(\$n) | not) |
			\"volume \(\$n) is mounted nowhere; \")" "$c")
done
while read -r name path; do
	used=0
	for a in "${DARGS[@]}"; do
		case "$a" in "$path"|"$path"/*) used=1 ;; esac
	done
	[ $used = 1 ] || grep -qF "| \`$path\` |" "$README" ||
		why+="$path ($name) is used by no option and not in the README's host path table; "
done < <(jq -r "$POD as \$s | \$s.containers[] | select(.name == \"podsentryd\") | .volumeMounts[] |
	.name as \$n | select(\$s.volumes[] | select(.name == \$n) | .hostPath) | \"\(.name) \(.mountPath)\"" \
	"$T/daemonset.json")
if [ -z "$why" ]; then ok mounts_used_or_documented; else fail mounts_used_or_documented "$why"; fi

# The capabilities: the DaemonSet's, the unit's bounding set and the
# README's table are one list.
ds_caps=$(daemon | jq -r '.securityContext.capabilities.add[]' | sort | tr '\n' ' ')
unit_caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr ' ' '\n' | sed 's/^CAP_//' | sort | tr '\n' ' ')
# (the Kubernetes section's table: the Privileges one says what is kept later)
readme_caps=$(sed -n '/^## Kubernetes/,/^## [^K]/p' "$README" |
	sed -n 's/^| `CAP_\([A-Z_]*\)` |.*/\1/p' | sort | tr '\n' ' ')
if [ -n "$ds_caps" ] && [ "$ds_caps" = "$unit_caps" ] && [ "$ds_caps" = "$readme_caps" ] &&
	[ "$(daemon | jq -r '.securityContext.capabilities.drop[]')" = ALL ] &&
	[ "$(daemon | jq -r '.securityContext.privileged')" = false ]; then
	ok capabilities_one_list
else
	fail capabilities_one_list "daemonset: $ds_caps; unit: $unit_caps; README: $readme_caps"
fi

# Prometheus: annotations, Service and container port agree; the daemon is
# told to listen there as soon as it has --metrics.
port=$(daemon | jq -r '.ports[] | select(.name == "metrics") | .containerPort')
if [ -n "$port" ] &&
	jqe --arg p "$port" '.[0].metadata.annotations["prometheus.io/port"] == $p and
		.[0].spec.ports[0].targetPort == "metrics" and (.[0].spec.ports[0].port | tostring) == $p' \
		< "$T/service.json" &&
	jqe --arg p "$port" '.[0].spec.template.metadata.annotations["prometheus.io/port"] == $p' \
		< "$T/daemonset.json" &&
	{ ! grep -q '^--metrics ' "$T/podsentryd.spec" ||
		[[ " ${DARGS[*]} " == *" --metrics 0.0.0.0:$port "* ]]; }; then
	ok metrics_scrape_consistent
else
	fail metrics_scrape_consistent "port \"$port\"; args: ${DARGS[*]}"
fi

# The log shippers tail exactly the export file and the pod logs.
opt() { local i; for ((i = 0; i < ${#DARGS[@]}; i++)); do
	[ "${DARGS[i]}" = "$1" ] && echo "${DARGS[i + 1]}"; done; }
EXPORT=$(opt --export) LOGDIR=$(opt --log-dir)
want=$(printf '%s\n' "$EXPORT" "$LOGDIR/*/*.log" | sort)
fb=$(awk '$1 == "Path" { print $2 }' "$K/logging/fluent-bit.conf" | sort)
vec=$(jq -r '.[0].sources[].include[]' "$T/vector.json" | sort)
call=$(awk '$1 == "call" { print $2 }' "$K/logging/fluent-bit.conf")
script=$(awk '$1 == "script" { print $2 }' "$K/logging/fluent-bit.conf")
if [ "$fb" = "$want" ] && [ "$vec" = "$want" ] &&
	grep -q "^function $call(" "$K/logging/$script" &&
	grep -q "namespace=\$pod\['namespace'\], pod=\$pod\['name'\]" "$K/logging/fluent-bit.conf" &&
	jqe '[.[0].sinks.loki_pods.labels | .namespace, .pod] == ["{{ pod.namespace }}", "{{ pod.name }}"]' \
		< "$T/vector.json"; then
	ok shippers_tail_the_logs
else
	fail shippers_tail_the_logs "want: $want; fluent-bit: $fb; vector: $vec; lua: $call in $script"
fi

# --version names the release, the commit (-dirty: the tree had changes
# when it was built, which later edits may have made or undone) and the
# BPF objects built in; an option error is one line and a hint, exit 2
commit=unknown
if [ "$(git -C "$PS_ROOT" rev-parse --show-toplevel 2>/dev/null)" = "$PS_ROOT" ]; then
	commit=$(git -C "$PS_ROOT" rev-parse --short HEAD)
fi
bpfid=$(cat $(ls "$B"/*.bpf.o | LC_ALL=C sort) | sha256sum | cut -c1-16)
why=
for b in podsentryd podsentry-cni podsentry; do
	want="$b $(cat "$PS_ROOT/VERSION") (commit $commit, bpf $bpfid)"
	got=$("$B/$b" --version 2>&1)
	[ "$got" = "$want" ] || [ "$got" = "${want/ (commit $commit,/ (commit $commit-dirty,}" ] ||
		why+="$b --version: \"$got\", want \"$want\"; "
done
if [ -z "$why" ]; then ok version_names_build; else fail version_names_build "$why"; fi
"$PODSENTRYD" --no-such-option >"$T/opt.out" 2>"$T/opt.err"
rc=$?
if [ $rc = 2 ] && [ ! -s "$T/opt.out" ] && [ "$(cat "$T/opt.err")" = "podsentryd: --no-such-option: unknown option or missing argument
Try 'podsentryd --help'." ]; then
	ok unknown_option_one_line
else
	fail unknown_option_one_line "exit $rc, $(wc -l < "$T/opt.err") lines: $(head -3 "$T/opt.err")"
fi

# ---- run them ----
# map_args ARGS...: the DaemonSet's paths made this test's (pins in $BPFFS,
# each other volume under $T/vol), $(NODE_NAME) set
mapfile -t MOUNTS < <(daemon | jq -r '.volumeMounts[] | "\(.name) \(.mountPath)"')
for m in "${MOUNTS[@]}"; do mkdir -p "$T/vol/${m%% *}"; done
map_args() {
	local a m name path
	for a in "$@"; do
		case "$a" in
		/sys/fs/bpf/*) a=$BPFFS ;;
		*)
			for m in "${MOUNTS[@]}"; do
				name=${m%% *} path=${m#* }
				case "$a" in "$path"|"$path"/*) a=$T/vol/$name${a#"$path"} ;; esac
			done ;;
		esac
		echo "${a//\$(NODE_NAME)/${P}node}"
	done
}
# the ConfigMap's files where the config volume is
cm=$(jq -r "$POD.volumes[] | select(.configMap) | .name" "$T/daemonset.json")
mkdir -p "$T/vol/$cm"
jq -r '.[0].data | keys[]' "$T/configmap.json" | while read -r k; do
	jq -r --arg k "$k" '.[0].data[$k]' "$T/configmap.json" > "$T/vol/$cm/$k"
done

# install: the init container's command, its host folders in $T
mkdir -p "$T/host/bin" "$T/host/net.d"
cni_conflist '{}' 0
cp "$CONFLIST" "$T/host/net.d/10-bridge.conflist"
orig=$(cat "$CONFLIST")
host_args() {
	local a
	while [ $# -gt 0 ]; do
		a=$1; shift
		case "$a" in
		# the image's bundle: here, the build's binary (the bundle is
		# checked in tests/e2e/image.sh)
		--bundle) echo --binary; echo "$PODSENTRY_CNI"; shift; continue ;;
		/host/opt/cni/bin) a=$T/host/bin ;;
		/host/etc/cni/net.d) a=$T/host/net.d ;;
		esac
		echo "$a"
	done
}
mapfile -t RUN_I < <(host_args "${ICMD[@]:1}")
cfg='{}'
for ((i = 1; i < ${#ICMD[@]} - 1; i++)); do
	[ "${ICMD[i]}" = --config ] && cfg=${ICMD[i + 1]}
done
if "$INST" "${RUN_I[@]}" >"$T/inst1.out" 2>&1 &&
	jqe --argjson c "$cfg" '(.plugins | map(.type)) == ["bridge", "podsentry-cni"] and
		(.plugins[1] | contains($c))' < "$T/host/net.d/10-bridge.conflist" &&
	cmp -s "$T/host/bin/podsentry-cni" "$PODSENTRY_CNI"; then
	ok install_chains
else
	fail install_chains "$(cat "$T/inst1.out" "$T/host/net.d/10-bridge.conflist")"
fi
before=$(sha256sum "$T/host/net.d/10-bridge.conflist" "$T/host/bin/podsentry-cni")
if "$INST" "${RUN_I[@]}" >"$T/inst2.out" 2>&1 && grep -q 'already up to date' "$T/inst2.out" &&
	[ "$(sha256sum "$T/host/net.d/10-bridge.conflist" "$T/host/bin/podsentry-cni")" = "$before" ]; then
	ok install_idempotent
else
	fail install_idempotent "$(cat "$T/inst2.out")"
fi
# the plugin's log file is a host path inside the logs volume
logfile=$(jq -r '.plugins[1].logFile // empty' "$T/host/net.d/10-bridge.conflist")
logs_host=$(jq -r "$POD.volumes[] | select(.hostPath.path == \"${LOGDIR%/}\") | .name" "$T/daemonset.json")
check cni_log_in_logs_volume [ -n "$logs_host" ] && [[ "$logfile" == "$LOGDIR"/* ]]

# the plugin finds the daemon's pins and state folder (its defaults are
# the ones in bpf/podsentry.h, the daemon's too)
def() { sed -n "s/^#define $1 \"\(.*\)\"/\1/p" "$PS_ROOT/bpf/podsentry.h"; }
if jqe --arg b "$(def PS_BPFFS_DEFAULT)" --arg s "$(def PS_STATE_DIR_DEFAULT)" \
	--arg db "$(opt --bpffs)" --arg ds "$(opt --state-dir)" \
	'.plugins[1] | (.bpffs // $b) == ($db | if . == "" then $b else . end) and
		(.stateDir // $s) == ($ds | if . == "" then $s else . end)' \
	< "$T/host/net.d/10-bridge.conflist"; then
	ok cni_paths_match_daemon
else
	fail cni_paths_match_daemon "plugin: $(jq -c '.plugins[1]' "$T/host/net.d/10-bridge.conflist"); daemon: --bpffs $(opt --bpffs) --state-dir $(opt --state-dir)"
fi

# a pod added while no podsentryd runs, through the installed list with
# this test's bpffs and state folder: pending
jq --arg b "$BPFFS" --arg s "$(map_args "$(opt --state-dir)")" --arg l "$T/cni.log" \
	'.plugins[1] += {bpffs: $b, stateDir: $s, logFile: $l}' \
	"$T/host/net.d/10-bridge.conflist" > "$T/chain.conflist"
CONFLIST=$T/chain.conflist
a=$(netns_add a)
CNI_BIN_PATH=/usr/lib/cni:$T/host/bin cni_add "${P}c1" "$a" eth0 \
	"IgnoreUnknown=1;K8S_POD_NAMESPACE=${P}ns;K8S_POD_NAME=web" >"$T/add.json" ||
	fail chain_add "$(cat "$T/add.json")"

# podsentryd with the DaemonSet's arguments and capabilities only
caps=$(daemon | jq -r '[.securityContext.capabilities.add[] | ascii_downcase | "+" + .] | join(",")')
mapfile -t RUN_D < <(map_args "${DARGS[@]}")
setpriv --bounding-set "-all,$caps" -- "$PODSENTRYD" "${RUN_D[@]}" \
	>"$T/daemon.stdout" 2>"$T/daemon.log" &
DAEMON_PID=$!
veth=$(host_veth "$a")
if _daemon_wait_ready 0 && grep -q 'reconciled 1 pod' "$T/daemon.log" && tc_has_ours "$veth" ingress; then
	ok daemon_runs_manifest_args
else
	fail daemon_runs_manifest_args "caps $caps, args ${RUN_D[*]}: $(cat "$T/daemon.log")"
fi

ip netns exec "$a" /bin/sh -c 'exec /bin/sleep 0.1'
podlog=$(map_args "$LOGDIR")/${P}ns/web.log
in_podlog() {
	has_record '.type == "process_exec" and .pod.namespace == "'"${P}ns"'" and .pod.name == "web"' "$podlog"
}
# the shippers' glob, mapped like the daemon's paths, finds it
glob=$(map_args "$LOGDIR")/*/*.log
if wait_for 10 in_podlog && compgen -G "$glob" | grep -qx "$podlog"; then
	ok pod_log_where_shippers_look
else
	fail pod_log_where_shippers_look "$(ls -R "$(map_args "$LOGDIR")" 2>&1 | head)"
fi

grace=$(jq -r "$POD.terminationGracePeriodSeconds" "$T/daemonset.json")
t0=$(date +%s%N)
daemon_stop
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $rc = 0 ] && [ "$ms" -lt $((grace * 1000)) ] && [ ! -e "$BPFFS" ] &&
	has_record '.type == "stats" and (has("pod") | not)' "$(map_args "$EXPORT")"; then
	ok stops_within_grace
else
	fail stops_within_grace "exit $rc after ${ms} ms (grace ${grace} s), pins: $(ls "$BPFFS" 2>&1 | head -2)"
fi
CNI_BIN_PATH=/usr/lib/cni:$T/host/bin cni_del "${P}c1" "$a" eth0 >/dev/null

# uninstall.yaml's command: the list as it was before
mapfile -t RUN_U < <(host_args "${UCMD[@]:1}")
if "$INST" "${RUN_U[@]}" >"$T/uninst.out" 2>&1 &&
	[ "$(jq -S . "$T/host/net.d/10-bridge.conflist")" = "$(jq -S . <<<"$orig")" ]; then
	ok uninstall_restores
else
	fail uninstall_restores "$(cat "$T/uninst.out" "$T/host/net.d/10-bridge.conflist")"
fi

# ---- the systemd unit ----
sed "s|@SBINDIR@|$B|" "$UNIT" > "$T/podsentryd.service"
# any message (an unknown key or value is only a warning) is a failure
if out=$(systemd-analyze verify "$T/podsentryd.service" 2>&1) && [ -z "$out" ]; then
	ok unit_verifies
else
	fail unit_verifies "$out"
fi

# Under a real systemd (in a podman container over this machine's root,
# the host's bpffs mounted): the unit's hardening lets podsentryd load,
# attach, pin on the host's bpffs, write its records and unpin at stop.
# The binary installed as `make install` would (in the container's
# overlay): the unit hides /tmp and /home, where a build may be.
SD=${P}sd
pmc() { podman --cgroup-manager=cgroupfs --runtime runc "$@"; }
trap 'pmc rm -f -t 0 "$SD" >/dev/null 2>&1' EXIT
pmc run -d --name "$SD" --privileged --network host --systemd=always \
	--ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
	--tmpfs /run:rw,notmpcopyup --tmpfs /run/lock:rw,notmpcopyup \
	--tmpfs /tmp:rw,notmpcopyup --tmpfs /var/log/journal:rw,notmpcopyup \
	-v /sys/fs/bpf:/sys/fs/bpf --rootfs /:O /lib/systemd/systemd >"$T/sd.out" 2>&1
booted() { case $(pmc exec "$SD" systemctl is-system-running 2>/dev/null) in
	running|degraded) return 0 ;; esac; return 1; }
# the unit's ExecStart with this test's pins and every process reported
sed "s|@SBINDIR@|/usr/local/sbin|" "$UNIT" > "$T/installed.service"
exec_start=$(sed -n 's/^ExecStart=//p' "$T/installed.service")
exec_start=${exec_start/ --export/ --bpffs $BPFFS --scope all --export}
if wait_for 30 booted && pmc cp "$T/installed.service" "$SD:/etc/systemd/system/podsentryd.service" &&
	pmc cp "$PODSENTRYD" "$SD:/usr/local/sbin/podsentryd" >"$T/sd.out" 2>&1 &&
	pmc exec "$SD" sh -c "mkdir -p /etc/systemd/system/podsentryd.service.d &&
		printf '[Service]\nExecStart=\nExecStart=%s\n' '$exec_start' \
			> /etc/systemd/system/podsentryd.service.d/test.conf &&
		systemctl daemon-reload && systemctl start podsentryd" >"$T/sd.out" 2>&1; then
	sd_ready() { pmc exec "$SD" journalctl -u podsentryd -o cat 2>/dev/null | grep -q 'podsentryd: ready'; }
	sd_records() { pmc exec "$SD" grep -q '"type":"process_exec"' /var/log/podsentry/events.json; }
	if wait_for 15 sd_ready && wait_for 10 sd_records && [ -e "$BPFFS/pods" ]; then
		ok unit_runs_under_systemd
	else
		fail unit_runs_under_systemd "$(pmc exec "$SD" journalctl -u podsentryd -o cat 2>&1 | tail -5)"
	fi
	# the folders systemd makes have the modes podsentryd's files need
	modes=$(pmc exec "$SD" stat -c '%n %a' /var/log/podsentry /var/lib/podsentry \
		/run/podsentry /var/log/podsentry/events.json 2>&1 | tr '\n' ' ')
	check unit_folder_modes [ "$modes" = "/var/log/podsentry 750 /var/lib/podsentry 700 /run/podsentry 700 /var/log/podsentry/events.json 640 " ]
	pmc exec "$SD" systemctl stop podsentryd
	res=$(pmc exec "$SD" systemctl show -p Result --value podsentryd 2>&1)
	check unit_stops_clean [ "$res" = success ] && [ ! -e "$BPFFS" ]
else
	fail unit_runs_under_systemd "systemd in podman: $(cat "$T/sd.out")"
fi
