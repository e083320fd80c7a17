#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Install the Debian packages podsentry needs to build, test and run the
# demo. Silent and fast when everything is present.
set -e
PKGS="clang llvm libclang-rt-14-dev libbpf-dev bpftool libelf-dev zlib1g-dev
libmnl-dev libjson-c-dev libcap-ng-dev libseccomp-dev pkg-config make gcc iproute2 jq
python3 procps psmisc containernetworking-plugins nftables podman runc busybox-static
bpftrace iperf3 python3-yaml systemd libgraphviz-dev"
# Real components the tests run (Prometheus scrapes the metrics, Chromium
# renders the report), without what they only recommend.
LEAN="prometheus chromium"

missing= lean=
for p in $PKGS $LEAN; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] && continue
	case " $LEAN " in
	*" $p "*) lean="$lean $p" ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing$lean" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing$lean (run as root to install)" >&2
	exit 1
fi
echo "install-deps: installing$missing$lean"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
[ -z "$missing" ] || apt-get install -y -qq $missing >/dev/null
# shellcheck disable=SC2086
[ -z "$lean" ] || apt-get install -y -qq --no-install-recommends $lean >/dev/null
