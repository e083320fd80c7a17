/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `podsentry report`: one self-contained HTML page from an export (the
 * JSON lines podsentryd writes): a service map of the pods and their
 * peers, and for each alert its process chain and the timeline of its
 * evidence. Graphs are laid out and drawn as SVG by Graphviz (libgvc)
 * in memory and embedded inline; the page loads nothing else and runs
 * no script. Every string from the records is escaped: pod names,
 * command lines and addresses are chosen by whoever runs in the pods.
 */
#ifndef PS_NODE_CLIENT_REPORT_H
#define PS_NODE_CLIENT_REPORT_H

/* argv[0] is "report". Returns the process exit status: 0, 1 when the
 * export cannot be read or the page cannot be written, 2 for bad
 * options. */
int report_main(int argc, char **argv);

#endif
