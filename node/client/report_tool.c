// SPDX-License-Identifier: GPL-2.0-only
/*
 * podsentry-report: `podsentry report` as a program of its own, until the
 * command-line client dispatches its "report" subcommand to report_main.
 */
#include "node/client/report.h"

int main(int argc, char **argv)
{
	return report_main(argc, argv);
}
