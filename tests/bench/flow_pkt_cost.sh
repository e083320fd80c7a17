#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Per-packet cost of the TC flow program (BPF_PROG_TEST_RUN repeat):
# existing flow in a 64k-flow table and new flow, against tc_nop, and
# the existing flow against tc_lookup (one lookup in a table as large).
B=${PS_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
exec "$B/bench/flow_pkt_cost" -r 5
