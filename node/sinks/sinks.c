// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "node/sinks/sinks.h"

void sinks_write(struct sinks *s, const char *line, size_t len, __u32 netns_a,
		 __u32 netns_b)
{
	metrics_record(s->metrics, line, len, netns_a, netns_b);
	exporter_write_line(&s->out, line, len);
	api_record(s->api, line, len, netns_a, netns_b);
	if (!s->podlog)
		return;
	if (netns_a)
		podlog_write_line(s->podlog, s->rc, netns_a, line, len);
	if (netns_b && netns_b != netns_a)
		podlog_write_line(s->podlog, s->rc, netns_b, line, len);
}

void sinks_flush(struct sinks *s)
{
	exporter_flush(&s->out);
	podlog_flush(s->podlog);
	api_flush(s->api);
}

void sinks_reopen(struct sinks *s)
{
	if (exporter_reopen(&s->out))
		fprintf(stderr, "podsentryd: reopen %s: %s\n", s->out.path,
			strerror(errno));
	podlog_reopen(s->podlog);
}
