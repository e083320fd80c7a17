#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The container image (`make image`), run with podman: every binary of
# the build answers --version as the build does; the DaemonSet's
# install-cni init container, run from the image, chains a bundle into a
# CNI folder (twice: nothing changes) that runs on the host without the
# host's libraries, and through the reference bridge plugin; podsentryd
# from the image becomes ready, names the pod in its records and pod log,
# passes the DaemonSet's readiness probe, and stops on SIGTERM with
# status 0 and no pins left.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"

TAG=localhost/${P}podsentry:test
DS=$PS_ROOT/deploy/kubernetes/daemonset.yaml
CTR=${P}d
pm() {
	podman --network-backend cni --cgroup-manager=cgroupfs --runtime runc "$@"
}
# run in the image, the way the tests here can run containers
pm_run() { pm run --rm --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 "$@"; }
cleanup() {
	pm rm -f -t 0 "$CTR" >/dev/null 2>&1
	[ "${BUILT:-}" = 1 ] && pm rmi -f "$TAG" >/dev/null 2>&1
}
trap cleanup EXIT

# the DaemonSet's pod spec as JSON
yaml_json() { /usr/bin/python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' "$1"; }
yaml_json "$DS" > "$T/ds.json" || { fail manifest "cannot read $DS"; exit 1; }

if make -s -C "$PS_ROOT" BUILD="$B" IMAGE_TAG="$TAG" IMAGE_CONTEXT="$T/image" image \
	>"$T/make.log" 2>&1; then
	BUILT=1
	ok make_image
else
	fail make_image "$(tail -5 "$T/make.log")"
	exit 1
fi

# every program of the build, in the image, is the same build
for b in podsentryd podsentry-cni podsentry; do
	[ -x "$B/$b" ] || continue
	want=$("$B/$b" --version 2>&1)
	got=$(pm_run --entrypoint "/usr/bin/$b" "$TAG" --version 2>&1)
	if [[ "$want" =~ ^$b\ [0-9.]+\ \(commit\ [0-9a-z-]+,\ bpf\ [0-9a-f]{16}\)$ ]] &&
		[ "$got" = "$want" ]; then
		ok "version_$b"
	else
		fail "version_$b" "image: \"$got\", build: \"$want\""
	fi
done
# podsentry report in the image: Graphviz finds its plugins there
printf '%s\n' '{"time":"2026-12-01T10:00:00Z","node":"n","type":"flow","pod":{"namespace":"shop","name":"a"},"flow":{"protocol":"tcp","src":{"ip":"10.0.0.2","port":40000,"pod":{"namespace":"shop","name":"a"}},"dst":{"ip":"10.0.0.3","port":80,"pod":{"namespace":"shop","name":"b"}},"bytes_out":1,"bytes_in":1,"state":"closed","final":true}}' |
	pm_run -i --entrypoint /usr/bin/podsentry "$TAG" report --file - -o - >"$T/image-report.html" 2>"$T/image-report.err"
grep -q '<svg' "$T/image-report.html" && ok report_in_image ||
	fail report_in_image "$(head -c 300 "$T/image-report.err")"
v=$(echo '{"cniVersion":"1.0.0"}' | pm_run -i -e CNI_COMMAND=VERSION \
	--entrypoint /usr/bin/podsentry-cni "$TAG" 2>/dev/null)
check cni_version_command jqe '.supportedVersions | index("1.0.0") != null' <<<"$v"

# The check-bpffs init container: passes on this machine's bpffs, stops
# with its reason where /sys/fs/bpf is something else
mapfile -t CHK < <(jq -r '.spec.template.spec.initContainers[] |
	select(.name == "check-bpffs") | .command[]' "$T/ds.json")
if pm_run --cap-drop all --read-only -v /sys/fs/bpf:/sys/fs/bpf:ro \
		--entrypoint "${CHK[0]}" "$TAG" "${CHK[@]:1}" >"$T/chk1.out" 2>&1 &&
	! pm_run --cap-drop all --read-only --tmpfs /sys/fs/bpf \
		--entrypoint "${CHK[0]}" "$TAG" "${CHK[@]:1}" >"$T/chk2.out" 2>&1 &&
	grep -q 'not a bpf filesystem' "$T/chk2.out"; then
	ok check_bpffs_init
else
	fail check_bpffs_init "on bpffs: $(cat "$T/chk1.out"); on tmpfs: $(cat "$T/chk2.out")"
fi

# The install-cni init container as the manifest has it, its host folders
# in $T: unprivileged, no capabilities, read-only root.
mkdir -p "$T/host/bin" "$T/host/net.d"
cni_conflist '{}' 0
cp "$CONFLIST" "$T/host/net.d/10-bridge.conflist"
init_run() {
	local cmd
	mapfile -t cmd < <(jq -r '.spec.template.spec.initContainers[] |
		select(.name == "install-cni") | .command[]' "$T/ds.json")
	pm_run --cap-drop all --read-only --tmpfs /tmp --security-opt no-new-privileges \
		-v "$T/host/bin:/host/opt/cni/bin" -v "$T/host/net.d:/host/etc/cni/net.d" \
		--entrypoint "${cmd[0]}" "$TAG" "${cmd[@]:1}"
}
if init_run >"$T/init1.out" 2>&1 &&
	jqe '.plugins | map(.type) == ["bridge", "podsentry-cni"]' < "$T/host/net.d/10-bridge.conflist" &&
	[ "$(ls "$T/host/bin/podsentry-cni.d" | wc -l)" = 1 ]; then
	ok init_container_installs
else
	fail init_container_installs "$(cat "$T/init1.out"; ls -R "$T/host")"
fi
sum() { (cd "$T/host" && find . -type f | LC_ALL=C sort | xargs sha256sum); }
before=$(sum)
if init_run >"$T/init2.out" 2>&1 && grep -q 'already up to date' "$T/init2.out" &&
	[ "$(sum)" = "$before" ]; then
	ok init_container_idempotent
else
	fail init_container_idempotent "$(cat "$T/init2.out"; diff <(echo "$before") <(sum))"
fi

# the bundle runs with none of the host's shared libraries: busybox is
# static, the launcher's loader and libraries are the image's
v=$(echo '{"cniVersion":"1.0.0"}' | unshare -m /bin/busybox sh -c \
	'mount -t tmpfs none /usr/lib/x86_64-linux-gnu && CNI_COMMAND=VERSION /bin/busybox sh "$1"' \
	sh "$T/host/bin/podsentry-cni" 2>/dev/null)
check bundle_without_host_libraries jqe '.supportedVersions | index("1.0.0") != null' <<<"$v"

# podsentryd from the image with the host's bpffs, BTF and cgroup root
mkdir -p "$T/out" "$STATE"
pm run -d --name "$CTR" --privileged --network host --pid host \
	--ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
	-v /sys/fs/bpf:/sys/fs/bpf -v /sys/kernel/btf:/sys/kernel/btf:ro \
	-v /sys/fs/cgroup:/sys/fs/cgroup:ro -v /run/netns:/run/netns:ro \
	-v "$T/out:/out" -v "$STATE:$STATE" \
	"$TAG" --bpffs "$BPFFS" --state-dir "$STATE" --export /out/export.json \
	--log-dir /out/pods --state-file /out/detect-state.json --node-name "${P}node" \
	>"$T/run.out" 2>&1
ready() { pm logs "$CTR" 2>&1 | grep -q 'podsentryd: ready'; }
if wait_for 20 ready; then
	ok daemon_ready
else
	fail daemon_ready "$(cat "$T/run.out"; pm logs "$CTR" 2>&1 | tail -5)"
	exit 1
fi

# the DaemonSet's readiness probe, its bpffs path made this test's
probe() {
	local c
	c=$(jq -r '.spec.template.spec.containers[] | select(.name == "podsentryd") |
		.readinessProbe.exec.command[2]' "$T/ds.json")
	echo "${c//\/sys\/fs\/bpf\/podsentry/$BPFFS}"
}
if pm exec "$CTR" /bin/sh -c "$(probe)"; then
	ok readiness_probe_ready
else
	fail readiness_probe_ready "probe \"$(probe)\" failed with the daemon running"
fi

# a pod through the installed chain, the plugin's paths made this test's
jq --arg b "$BPFFS" --arg s "$STATE" --arg l "$T/cni.log" \
	'.plugins[1] += {bpffs: $b, stateDir: $s, logFile: $l}' \
	"$T/host/net.d/10-bridge.conflist" > "$T/chain.conflist"
CONFLIST=$T/chain.conflist
a=$(netns_add a)
if CNI_BIN_PATH=/usr/lib/cni:$T/host/bin cni_add "${P}c1" "$a" eth0 \
	"IgnoreUnknown=1;K8S_POD_NAMESPACE=${P}ns;K8S_POD_NAME=web" >"$T/add.json"; then
	ok chain_add
else
	fail chain_add "$(cat "$T/add.json"; tail -3 "$T/cni.log" 2>&1)"
fi
ip netns exec "$a" /bin/sh -c 'exec /bin/sleep 0.1'
named() {
	has_record '.type == "process_exec" and .pod.namespace == "'"${P}ns"'" and .pod.name == "web"' \
		"$T/out/export.json" &&
		has_record '.type == "process_exec" and .node == "'"${P}node"'"' "$T/out/pods/${P}ns/web.log"
}
if wait_for 10 named; then
	ok records_name_the_pod
else
	fail records_name_the_pod "$(tail -2 "$T/out/export.json"; ls -R "$T/out/pods" 2>&1)"
fi
if CNI_BIN_PATH=/usr/lib/cni:$T/host/bin cni_del "${P}c1" "$a" eth0 >/dev/null; then
	ok chain_del
else
	fail chain_del "$(tail -3 "$T/cni.log")"
fi

# SIGTERM (podman stop): status 0, pins gone, and the probe says so
pm stop -t 30 "$CTR" >/dev/null 2>&1
rc=$(pm inspect "$CTR" --format '{{.State.ExitCode}}')
if [ "$rc" = 0 ] && [ ! -e "$BPFFS" ]; then
	ok sigterm_unpins
else
	fail sigterm_unpins "exit $rc, left: $(ls "$BPFFS" 2>&1 | head -3)"
fi
if ! pm_run -v /sys/fs/bpf:/sys/fs/bpf:ro --entrypoint /bin/sh "$TAG" -c "$(probe)"; then
	ok readiness_probe_stopped
else
	fail readiness_probe_stopped "probe passes without a daemon"
fi
