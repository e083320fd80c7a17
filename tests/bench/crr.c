// SPDX-License-Identifier: GPL-2.0-only
/*
 * TCP connect/request/response/close (and UDP) traffic for the
 * correlation tests and benchmark.
 *
 *   crr server PORT [WORKERS]          answer each request of up to 64
 *                                      bytes with 64 bytes, then close
 *   crr client IP PORT N [WORKERS]     N connect/request/response/close
 *                                      cycles; prints "crr: N conns S s R/s E errors"
 *   crr hit IP PORT                    connect, send one byte, print "PID PORT",
 *                                      exit at once
 *   crr detach IP PORT N               print a fork's pid and exit; the fork
 *                                      makes the N cycles once it is orphaned
 *   crr udp IP PORT N                  N datagrams of 100 bytes by sendto
 *   crr udp-sink PORT                  bind PORT, read datagrams, never answer
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG 64

static int addr_parse(const char *ip, const char *port, struct sockaddr_in *a)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(atoi(port));
	return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int serve(int ls)
{
	char buf[MSG];

	for (;;) {
		int c = accept(ls, NULL, NULL);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return 1;
		}
		memset(buf, 'r', sizeof(buf));
		if (read(c, buf, sizeof(buf)) > 0 &&
		    write(c, buf, sizeof(buf)) != sizeof(buf))
			perror("crr server: write");
		close(c);
	}
}

static int server(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int ls, one = 1, workers = argc > 3 ? atoi(argv[3]) : 1, i;

	a.sin_port = htons(atoi(argv[2]));
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (void *)&a, sizeof(a)) || listen(ls, 4096)) {
		perror("crr server");
		return 1;
	}
	for (i = 1; i < workers; i++) {
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM); /* ends with the server */
			return serve(ls);
		}
	}
	return serve(ls);
}

static int one_crr(const struct sockaddr_in *a)
{
	char buf[MSG];
	ssize_t n, got = 0;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0)
		return -1;
	memset(buf, 'q', sizeof(buf));
	if (connect(s, (const void *)a, sizeof(*a)) ||
	    write(s, buf, sizeof(buf)) != sizeof(buf)) {
		close(s);
		return -1;
	}
	while (got < MSG && (n = read(s, buf, sizeof(buf))) > 0)
		got += n;
	close(s);
	return got == MSG ? 0 : -1;
}

static int client(int argc, char **argv)
{
	struct sockaddr_in a;
	long n = atol(argv[4]), errors = 0;
	int workers = argc > 5 ? atoi(argv[5]) : 1, i, st;
	double t0;

	if (addr_parse(argv[2], argv[3], &a) || n <= 0 || workers <= 0) {
		fprintf(stderr, "crr client: bad arguments\n");
		return 2;
	}
	t0 = now_s();
	for (i = 0; i < workers; i++) {
		if (fork() == 0) {
			long k, e = 0;

			for (k = i; k < n; k += workers)
				e += one_crr(&a) ? 1 : 0;
			_exit(e > 255 ? 255 : e);
		}
	}
	while (wait(&st) > 0)
		errors += WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	printf("crr: %ld conns %.3f s %.0f/s %ld errors\n", n, now_s() - t0,
	       n / (now_s() - t0), errors);
	return errors ? 1 : 0;
}

/* A daemon's way: the image's exec holder ends, a fork of it works on. */
static int detach(char **argv)
{
	struct sockaddr_in a;
	long n = atol(argv[4]), k;
	pid_t parent = getpid(), child;

	if (addr_parse(argv[2], argv[3], &a) || n <= 0) {
		fprintf(stderr, "crr detach: bad arguments\n");
		return 2;
	}
	child = fork();
	if (child < 0) {
		perror("crr detach: fork");
		return 1;
	}
	if (child) {
		printf("%d\n", child);
		return 0;
	}
	while (getppid() == parent)
		usleep(1000);
	for (k = 0; k < n; k++)
		if (one_crr(&a))
			_exit(1);
	_exit(0);
}

static int hit(char **argv)
{
	struct sockaddr_in a, me;
	socklen_t len = sizeof(me);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (addr_parse(argv[2], argv[3], &a) || s < 0 ||
	    connect(s, (void *)&a, sizeof(a)) || write(s, "x", 1) != 1 ||
	    getsockname(s, (void *)&me, &len)) {
		perror("crr hit");
		return 1;
	}
	/* the test's ground truth: which process had which port */
	printf("%d %u\n", getpid(), ntohs(me.sin_port));
	return 0; /* exit closes it */
}

static int udp(char **argv)
{
	struct sockaddr_in a;
	char buf[100];
	long n = atol(argv[4]), i;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	if (addr_parse(argv[2], argv[3], &a) || s < 0)
		return 2;
	memset(buf, 'u', sizeof(buf));
	for (i = 0; i < n; i++) {
		if (sendto(s, buf, sizeof(buf), 0, (void *)&a, sizeof(a)) < 0) {
			perror("crr udp");
			return 1;
		}
		usleep(20000);
	}
	return 0;
}

/* Bind PORT and read datagrams, never answering, until killed. */
static int udp_sink(char **argv)
{
	struct sockaddr_in a;
	char buf[2048];
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	if (addr_parse("0.0.0.0", argv[2], &a) || s < 0)
		return 2;
	if (bind(s, (void *)&a, sizeof(a))) {
		perror("crr udp-sink: bind");
		return 1;
	}
	for (;;)
		if (recv(s, buf, sizeof(buf), 0) < 0 && errno != EINTR) {
			perror("crr udp-sink");
			return 1;
		}
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 3 && !strcmp(argv[1], "server"))
		return server(argc, argv);
	if (argc >= 5 && !strcmp(argv[1], "client"))
		return client(argc, argv);
	if (argc == 4 && !strcmp(argv[1], "hit"))
		return hit(argv);
	if (argc == 5 && !strcmp(argv[1], "detach"))
		return detach(argv);
	if (argc == 5 && !strcmp(argv[1], "udp"))
		return udp(argv);
	if (argc == 3 && !strcmp(argv[1], "udp-sink"))
		return udp_sink(argv);
	fprintf(stderr, "usage: crr server PORT [WORKERS] | client IP PORT N [WORKERS] |"
		" hit IP PORT | detach IP PORT N | udp IP PORT N | udp-sink PORT\n");
	return 2;
}
