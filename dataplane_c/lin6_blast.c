// SPDX-License-Identifier: MIT
/*
 * lin6_blast: a small traffic generator/sink for the dataplane benchmark
 * (no iperf on the test machines).  Prints one JSON line.
 *
 *   lin6_blast udp-recv PORT SECONDS [poll]
 *   lin6_blast udp-send DST PORT SECONDS SIZE [SRC]
 *   lin6_blast tcp-recv PORT SECONDS
 *   lin6_blast tcp-send DST PORT SECONDS [SRC]
 *
 * Receivers report what arrived between the first and the last packet
 * (or byte), so start-up and idle time do not count.  Every side reports
 * the CPU time it used ("cpu": user + system; the kernel charges softirq
 * work that runs in the process's context to it, e.g. the whole path of a
 * sent packet through veth and the namespaces).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAXPKT 2048

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time (user + system, which includes softirq work run on our behalf) used so far. */
static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static int addr(const char *text, int port, struct sockaddr_in6 *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin6_family = AF_INET6;
	sa->sin6_port = htons(port);
	return inet_pton(AF_INET6, text, &sa->sin6_addr) == 1 ? 0 : -1;
}

static int sock(int type, const char *src)
{
	struct sockaddr_in6 sa;
	int s = socket(AF_INET6, type, 0);

	if (s < 0)
		return -1;
	if (src && (addr(src, 0, &sa) < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)) {
		close(s);
		return -1;
	}
	return s;
}

static int listener(int type, int port, double seconds)
{
	struct sockaddr_in6 sa;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	int one = 1, s = socket(AF_INET6, type, 0);

	(void)seconds;
	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	addr("::", port, &sa);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	if (type == SOCK_STREAM && listen(s, 1) < 0)
		return -1;
	printf("listening\n");
	fflush(stdout);
	return s;
}

static int udp_recv(int port, double seconds, int poll)
{
	static char bufs[BATCH][MAXPKT];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	double start = now(), first = 0, last = 0;
	long packets = 0, bytes = 0, calls = 0;
	int s = listener(SOCK_DGRAM, port, seconds), rcvbuf = 8 << 20;

	if (s < 0)
		return perror("udp-recv"), 1;
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = MAXPKT;
		memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (now() - start < seconds) {
		int n = recvmmsg(s, msgs, BATCH, poll ? MSG_DONTWAIT : 0, NULL);

		if (n <= 0) {
			if (packets && now() - last > 0.5)
				break;
			continue;
		}
		last = now();
		if (!packets)
			first = last;
		packets += n;
		calls++;
		for (int i = 0; i < n; i++)
			bytes += msgs[i].msg_len;
	}
	printf("{\"packets\": %ld, \"bytes\": %ld, \"calls\": %ld, \"seconds\": %.6f, \"cpu\": %.6f}\n",
	       packets, bytes, calls, last - first, cpu());
	return 0;
}

static int udp_send(const char *dst, int port, double seconds, int size, const char *src)
{
	static char payload[MAXPKT];
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	struct sockaddr_in6 sa;
	long sent = 0, errors = 0;
	double start;
	int s = sock(SOCK_DGRAM, src);

	if (s < 0 || addr(dst, port, &sa) < 0 || size < 1 || size > MAXPKT)
		return perror("udp-send"), 1;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return perror("udp-send connect"), 1;
	iov.iov_base = payload;
	iov.iov_len = size;
	for (int i = 0; i < BATCH; i++) {
		memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	start = now();
	while (now() - start < seconds) {
		int n = sendmmsg(s, msgs, BATCH, 0);

		if (n < 0)
			errors++;
		else
			sent += n;
	}
	printf("{\"sent\": %ld, \"errors\": %ld, \"seconds\": %.6f, \"cpu\": %.6f}\n", sent, errors,
	       now() - start, cpu());
	return 0;
}

static int tcp_recv(int port, double seconds)
{
	static char buf[1 << 18];
	double start = now(), first = 0, last = 0;
	long bytes = 0;
	int c = -1, s = listener(SOCK_STREAM, port, seconds);

	if (s < 0)
		return perror("tcp-recv"), 1;
	while (c < 0 && now() - start < seconds)
		c = accept(s, NULL, NULL);
	if (c < 0)
		return fprintf(stderr, "tcp-recv: no connection\n"), 1;
	for (;;) {
		ssize_t n = recv(c, buf, sizeof(buf), 0);

		if (n == 0)
			break;
		if (n < 0) {
			if ((errno == EAGAIN || errno == EINTR) && now() - start < seconds + 5)
				continue;
			break;
		}
		last = now();
		if (!bytes)
			first = last;
		bytes += n;
	}
	printf("{\"bytes\": %ld, \"seconds\": %.6f, \"cpu\": %.6f}\n", bytes, last - first, cpu());
	return 0;
}

static int tcp_send(const char *dst, int port, double seconds, const char *src)
{
	static char buf[1 << 18];
	struct sockaddr_in6 sa;
	double start = now();
	long sent = 0;
	int s = -1;

	if (addr(dst, port, &sa) < 0)
		return fprintf(stderr, "tcp-send: bad address\n"), 1;
	while (now() - start < 5) {
		s = sock(SOCK_STREAM, src);
		if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (s >= 0)
			close(s);
		s = -1;
		usleep(20000);
	}
	if (s < 0)
		return perror("tcp-send connect"), 1;
	start = now();
	while (now() - start < seconds) {
		ssize_t n = send(s, buf, sizeof(buf), 0);

		if (n < 0)
			return perror("tcp-send"), 1;
		sent += n;
	}
	shutdown(s, SHUT_WR);
	printf("{\"sent\": %ld, \"seconds\": %.6f, \"cpu\": %.6f}\n", sent, now() - start, cpu());
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "udp-recv"))
		return udp_recv(atoi(argv[2]), atof(argv[3]), argc > 4 && !strcmp(argv[4], "poll"));
	if (argc >= 6 && !strcmp(argv[1], "udp-send"))
		return udp_send(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]), argc > 6 ? argv[6] : NULL);
	if (argc >= 4 && !strcmp(argv[1], "tcp-recv"))
		return tcp_recv(atoi(argv[2]), atof(argv[3]));
	if (argc >= 5 && !strcmp(argv[1], "tcp-send"))
		return tcp_send(argv[2], atoi(argv[3]), atof(argv[4]), argc > 5 ? argv[5] : NULL);
	fprintf(stderr, "usage: see the comment at the top of lin6_blast.c\n");
	return 2;
}
