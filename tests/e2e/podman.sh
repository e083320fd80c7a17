#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# End to end with a real runtime: podman on its CNI backend runs the
# conflist [bridge, podsentry-cni] for a container; podsentryd's records
# of the container's processes carry the pod (podman passes
# K8S_POD_NAME=<container name>); after the container is removed no
# state, map entry or filter is left.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"

IMG=localhost/${P}bb:latest
CTR=${P}c1
export CONTAINERS_CONF=$T/containers.conf
cat > "$CONTAINERS_CONF" <<CONF
[network]
cni_plugin_dirs = ["/usr/lib/cni", "$B"]
network_config_dir = "/etc/cni/net.d"
CONF
pm() {
	podman --network-backend cni --cgroup-manager=cgroupfs --runtime runc "$@"
}
cleanup() {
	daemon_stop >/dev/null 2>&1
	pm rm -f -t 0 "$CTR" >/dev/null 2>&1
	pm rmi -f "$IMG" >/dev/null 2>&1
	rm -f "/etc/cni/net.d/$NET.conflist"
}
trap cleanup EXIT

# image from busybox-static
mkdir -p "$T/root/bin"
cp /bin/busybox "$T/root/bin/"
for c in sh sleep cat true; do ln -s busybox "$T/root/bin/$c"; done
tar -C "$T/root" -cf "$T/root.tar" . &&
	pm import "$T/root.tar" "$IMG" >/dev/null || { fail image "podman import failed"; exit 1; }

cni_conflist
mkdir -p /etc/cni/net.d
cp "$CONFLIST" "/etc/cni/net.d/$NET.conflist"
if ! daemon_start --state-dir "$STATE"; then
	fail daemon_start "podsentryd did not start"
	exit 1
fi

# The container looks at its own state file while it runs: CNI ADD ran.
out=$(pm run --rm --name "$CTR" --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
	--network "$NET" "$IMG" /bin/sh -c 'sleep 0.3; cat /proc/self/status >/dev/null; echo ran' 2>"$T/podman.err")
rc=$?
if [ $rc = 0 ] && [ "$out" = ran ]; then
	ok container_runs
else
	fail container_runs "podman exited $rc: $out $(tail -5 "$T/podman.err")"
fi

if grep -q "info: ADD container=[0-9a-f]* pod=$CTR ifname=eth0 result=ok" "$T/cni.log" 2>/dev/null; then
	ok podman_called_podsentry_cni
else
	fail podman_called_podsentry_cni "no ADD line in $T/cni.log: $(cat "$T/cni.log" 2>&1)"
fi

named() {
	records process_exec | jqe -s --arg n "$CTR" \
		'map(select(.pod.name == $n and (.process.binary | endswith("/busybox") or endswith("/cat") or endswith("/sh")))) | length > 0'
}
if wait_for 10 named; then
	ok records_carry_pod_name
else
	fail records_carry_pod_name "no process_exec with pod.name $CTR: $(records process_exec | tail -3)"
fi

gone() {
	[ -z "$(ls "$STATE"/*.json 2>/dev/null)" ] && [ "$(map_count pods)" = 0 ] &&
		[ "$(map_count pod_ifindex)" = 0 ] && [ "$(map_count pod_ip)" = 0 ]
}
if wait_for 10 gone && grep -q "info: DEL container=[0-9a-f]* pod=$CTR ifname=eth0 result=ok" "$T/cni.log"; then
	ok nothing_left_after_rm
else
	fail nothing_left_after_rm "state: $(ls "$STATE"); pods=$(map_count pods) pod_ifindex=$(map_count pod_ifindex)"
fi
