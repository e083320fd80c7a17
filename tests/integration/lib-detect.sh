# SPDX-License-Identifier: GPL-2.0-only
# Helpers of the detection tests. Source after tests/lib.sh and
# tests/cni/lib-cni.sh (cni_conflist done); alerts are read from $AL.

# pod_add NAME NAMESPACE POD: a pod (netns $P$NAME, IPv4 only) through
# the CNI chain; prints its IP
pod_add() {
	local ns=$P$1
	ip netns add "$ns" && ip -n "$ns" link set lo up &&
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 &&
		cni_add "$ns" "$ns" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=$2;K8S_POD_NAME=$3" >"$T/$1.cni" ||
		return 1
	jq -r '.ips[0].address' "$T/$1.cni" | cut -d/ -f1
}

# alerts_of POD [RULE]: the open alert records of a pod (by name)
alerts_of() {
	jq -c --arg p "$1" --arg r "${2:-}" 'select(.type=="alert" and .alert.status=="open" and
		.pod.name==$p and ($r == "" or .alert.rule==$r))' "$AL" 2>/dev/null
}
n_alerts() { alerts_of "$@" | grep -c .; }

# vuln_www DIR: a web root whose CGI cgi-bin/hello has a command
# injection: /cgi-bin/hello?name=NAME runs sh -c "echo Hello NAME"
vuln_www() {
	mkdir -p "$1/cgi-bin"
	cat >"$1/cgi-bin/hello" <<'CGI'
#!/bin/sh
echo "Content-Type: text/plain"
echo
name=$(busybox httpd -d "${QUERY_STRING#name=}")
sh -c "echo Hello $name"
CGI
	chmod +x "$1/cgi-bin/hello"
	echo ok >"$1/index.html"
}
