// SPDX-License-Identifier: MIT
/*
 * l6pap_xfer: the traffic of the paper comparison.  Prints one JSON line
 * per result (and, for udp-recv, one per change of arrival interface).
 *
 *   l6pap_xfer tcp-recv PORT TIMEOUT
 *       accept one connection, read to EOF, check every byte against the
 *       generated "file", answer with the byte count (8 bytes), report.
 *   l6pap_xfer tcp-send DST PORT BYTES TIMEOUT [SRC]
 *       connect, send BYTES of the generated file, half-close, wait for
 *       the receiver's count; "seconds" runs from connect() to that answer.
 *   l6pap_xfer udp-recv PORT SECONDS
 *       receive sequence-numbered datagrams for SECONDS; whenever the
 *       arrival interface (IPV6_PKTINFO) changes, print
 *       {"switch":IFINDEX,"t":MONO,"seq":N,"prevT":MONO,"prevSeq":N};
 *       at the end {"received":N,"lost":N,...}.
 *   l6pap_xfer udp-send DST PORT SECONDS INTERVAL_US SIZE [SRC]
 *       send a datagram (sequence number, send time) every INTERVAL_US.
 *
 * Times are CLOCK_MONOTONIC seconds, which all network namespaces of a
 * machine share, so the caller can compare them with its own.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int die(const char *what)
{
	printf("{\"error\":\"%s: %s\"}\n", what, strerror(errno));
	return 1;
}

static int addr(const char *text, int port, struct sockaddr_in6 *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin6_family = AF_INET6;
	sa->sin6_port = htons(port);
	return inet_pton(AF_INET6, text, &sa->sin6_addr) == 1 ? 0 : -1;
}

/* The "file": a deterministic byte stream (xorshift64), so the receiver
 * checks every byte without the data crossing any other channel. */
struct gen {
	uint64_t state;
	uint64_t word;
	int left;
};

static void genInit(struct gen *g)
{
	g->state = 0x9e3779b97f4a7c15ULL;
	g->left = 0;
}

static void genFill(struct gen *g, unsigned char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (g->left == 0) {
			g->state ^= g->state << 13;
			g->state ^= g->state >> 7;
			g->state ^= g->state << 17;
			g->word = g->state;
			g->left = 8;
		}
		buf[i] = g->word & 0xff;
		g->word >>= 8;
		g->left--;
	}
}

static int waitFor(int fd, short events, double deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	double left = deadline - now();

	if (left <= 0)
		return 0;
	return poll(&p, 1, (int)(left * 1000) + 1);
}

static int tcpRecv(int port, double timeout)
{
	static unsigned char buf[CHUNK], want[CHUNK];
	struct sockaddr_in6 sa, peer;
	socklen_t plen = sizeof(peer);
	double deadline = now() + timeout, start, end;
	uint64_t total = 0, mismatchAt = UINT64_MAX, netTotal;
	struct gen g;
	char peerText[INET6_ADDRSTRLEN] = "";
	int one = 1, s, c;

	s = socket(AF_INET6, SOCK_STREAM, 0);
	if (s < 0 || addr("::", port, &sa) < 0)
		return die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 1) < 0)
		return die("bind");
	printf("listening\n");
	fflush(stdout);
	if (waitFor(s, POLLIN, deadline) <= 0) {
		printf("{\"error\":\"no connection\"}\n");
		return 1;
	}
	c = accept(s, (struct sockaddr *)&peer, &plen);
	if (c < 0)
		return die("accept");
	start = now();
	inet_ntop(AF_INET6, &peer.sin6_addr, peerText, sizeof(peerText));
	genInit(&g);
	for (;;) {
		ssize_t n;

		if (waitFor(c, POLLIN, deadline) <= 0) {
			printf("{\"error\":\"timeout\",\"bytes\":%" PRIu64 "}\n", total);
			return 1;
		}
		n = read(c, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return die("read");
		if (n == 0)
			break;
		genFill(&g, want, n);
		if (mismatchAt == UINT64_MAX && memcmp(buf, want, n) != 0)
			mismatchAt = total;
		total += n;
	}
	end = now();
	netTotal = htobe64(total);
	if (write(c, &netTotal, sizeof(netTotal)) != sizeof(netTotal))
		return die("write");
	close(c);
	printf("{\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"intact\":%s,\"peer\":\"%s\"}\n",
	       total, end - start, mismatchAt == UINT64_MAX ? "true" : "false", peerText);
	return 0;
}

static int tcpSend(const char *dst, int port, uint64_t bytes, double timeout, const char *src)
{
	static unsigned char buf[CHUNK];
	struct sockaddr_in6 sa;
	double deadline = now() + timeout, start, end;
	uint64_t sent = 0, answer = 0;
	size_t got = 0;
	struct gen g;
	int mss = 0;
	socklen_t mlen = sizeof(mss);
	int s = socket(AF_INET6, SOCK_STREAM, 0);

	if (s < 0)
		return die("socket");
	if (src) {
		if (addr(src, 0, &sa) < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return die("bind");
	}
	if (addr(dst, port, &sa) < 0) {
		printf("{\"error\":\"bad address\"}\n");
		return 1;
	}
	start = now();
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return die("connect");
	getsockopt(s, IPPROTO_TCP, 2 /* TCP_MAXSEG */, &mss, &mlen);
	genInit(&g);
	while (sent < bytes) {
		size_t n = bytes - sent < CHUNK ? bytes - sent : CHUNK;
		size_t off = 0;

		genFill(&g, buf, n);
		while (off < n) {
			ssize_t w;

			if (waitFor(s, POLLOUT, deadline) <= 0) {
				printf("{\"error\":\"timeout\",\"bytes\":%" PRIu64 "}\n", sent + off);
				return 1;
			}
			w = write(s, buf + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return die("write");
			off += w;
		}
		sent += n;
	}
	shutdown(s, SHUT_WR);
	while (got < sizeof(answer)) {
		ssize_t n;

		if (waitFor(s, POLLIN, deadline) <= 0) {
			printf("{\"error\":\"no answer\"}\n");
			return 1;
		}
		n = read(s, (char *)&answer + got, sizeof(answer) - got);
		if (n <= 0)
			return die("read answer");
		got += n;
	}
	end = now();
	close(s);
	printf("{\"bytes\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"seconds\":%.6f,\"mss\":%d}\n",
	       sent, (uint64_t)be64toh(answer), end - start, mss);
	return 0;
}

struct dgram {
	uint64_t seq;
	double sent;
};

static int udpRecv(int port, double seconds)
{
	unsigned char buf[2048], ctl[256];
	struct sockaddr_in6 sa;
	double deadline = now() + seconds, prevT = 0;
	uint64_t received = 0, maxSeq = 0, prevSeq = 0;
	int one = 1, prevIf = -1;
	int s = socket(AF_INET6, SOCK_DGRAM, 0);

	if (s < 0 || addr("::", port, &sa) < 0)
		return die("socket");
	setsockopt(s, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return die("bind");
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		struct cmsghdr *cm;
		struct dgram d;
		int ifindex = 0;
		ssize_t n;
		double t;

		if (waitFor(s, POLLIN, deadline) <= 0)
			break;
		n = recvmsg(s, &mh, 0);
		t = now();
		if (n < (ssize_t)sizeof(d))
			continue;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO)
				ifindex = ((struct in6_pktinfo *)CMSG_DATA(cm))->ipi6_ifindex;
		memcpy(&d, buf, sizeof(d));
		received++;
		if (d.seq > maxSeq)
			maxSeq = d.seq;
		if (ifindex != prevIf) {
			printf("{\"switch\":%d,\"t\":%.6f,\"seq\":%" PRIu64 ",\"prevT\":%.6f,"
			       "\"prevSeq\":%" PRIu64 "}\n", ifindex, t, d.seq, prevT, prevSeq);
			fflush(stdout);
			prevIf = ifindex;
		}
		prevT = t;
		prevSeq = d.seq;
	}
	printf("{\"received\":%" PRIu64 ",\"maxSeq\":%" PRIu64 ",\"lost\":%" PRIu64 "}\n",
	       received, maxSeq, received ? maxSeq + 1 - received : 0);
	return 0;
}

static int udpSend(const char *dst, int port, double seconds, long intervalUs, int size,
		   const char *src)
{
	unsigned char buf[2048] = { 0 };
	struct sockaddr_in6 sa;
	double start = now(), next = start;
	uint64_t seq = 0, failed = 0;
	int s = socket(AF_INET6, SOCK_DGRAM, 0);

	if (s < 0)
		return die("socket");
	if (size < (int)sizeof(struct dgram) || size > (int)sizeof(buf) || intervalUs < 10) {
		printf("{\"error\":\"bad size or interval\"}\n");
		return 1;
	}
	if (src) {
		if (addr(src, 0, &sa) < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return die("bind");
	}
	if (addr(dst, port, &sa) < 0) {
		printf("{\"error\":\"bad address\"}\n");
		return 1;
	}
	while (now() - start < seconds) {
		struct dgram d = { seq, now() };
		struct timespec ts;
		double wait;

		memcpy(buf, &d, sizeof(d));
		if (sendto(s, buf, size, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			failed++;
		seq++;
		next += intervalUs / 1e6;
		wait = next - now();
		if (wait > 0) {
			ts.tv_sec = (time_t)wait;
			ts.tv_nsec = (long)((wait - ts.tv_sec) * 1e9);
			nanosleep(&ts, NULL);
		}
	}
	printf("{\"sent\":%" PRIu64 ",\"failed\":%" PRIu64 "}\n", seq, failed);
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: l6pap_xfer tcp-recv PORT TIMEOUT\n"
		"       l6pap_xfer tcp-send DST PORT BYTES TIMEOUT [SRC]\n"
		"       l6pap_xfer udp-recv PORT SECONDS\n"
		"       l6pap_xfer udp-send DST PORT SECONDS INTERVAL_US SIZE [SRC]\n");
	return 2;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "tcp-recv"))
		return tcpRecv(atoi(argv[2]), atof(argv[3]));
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "tcp-send"))
		return tcpSend(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10), atof(argv[5]),
			       argc == 7 ? argv[6] : NULL);
	if (argc == 4 && !strcmp(argv[1], "udp-recv"))
		return udpRecv(atoi(argv[2]), atof(argv[3]));
	if ((argc == 7 || argc == 8) && !strcmp(argv[1], "udp-send"))
		return udpSend(argv[2], atoi(argv[3]), atof(argv[4]), atol(argv[5]), atoi(argv[6]),
			       argc == 8 ? argv[7] : NULL);
	return usage();
}
