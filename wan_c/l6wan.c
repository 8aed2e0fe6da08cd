// SPDX-License-Identifier: MIT
/*
 * l6wan: a user-space WAN delay emulator for the lin6twisted lab.
 *
 * This kernel has no netem (and no fq/ETF for earliest-departure-time
 * pacing), so wide-area delays are emulated in user space.  l6wan runs inside
 * the lab's WAN-core network namespace.  The core routes every packet that
 * arrives on spoke interface i into TUN device i (policy routing set up by the
 * lab: "ip -6 rule add iif spoke_i table T_i", table T_i: "default dev tun_i").
 * l6wan reads the packet from tun_i, finds the egress port j from the
 * destination prefix (longest match over the configured routes), holds it for
 * the configured one-way delay d(i, j), and writes it back into tun_i.  The
 * kernel then routes it again (from tun_i the main table applies) out of
 * spoke j.  Delays are constant per (i, j) pair, so one FIFO per pair keeps
 * packet order; a single timerfd is armed for the earliest due packet.
 *
 * Config file (one directive per line, '#' comments):
 *   port NAME                  TUN device NAME (already created, e.g. by
 *                              "ip tuntap add dev NAME mode tun")
 *   route PREFIX/LEN NAME      destinations in PREFIX leave through port NAME
 *   delay NAME_A NAME_B MS     one-way delay A->B and B->A, milliseconds
 *   oneway NAME_A NAME_B MS    one-way delay A->B only
 *   limit BYTES                queued bytes at most (default 64 MiB); excess dropped
 *
 * Signals: SIGUSR1 prints counters to stdout; SIGTERM/SIGINT print them and exit.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 32
#define MAX_ROUTES 256
#define MAX_PKT 65536

struct pkt {
	struct pkt *next;
	uint64_t due_ns;
	size_t len;
	unsigned char data[];
};

struct queue {
	struct pkt *head, *tail;
	uint64_t packets, bytes, dropped;
};

struct route {
	unsigned char prefix[16];
	int len;
	int port;
};

static char port_name[MAX_PORTS][IFNAMSIZ];
static int port_fd[MAX_PORTS];
static int nports;
static struct route routes[MAX_ROUTES];
static int nroutes;
static uint64_t delay_ns[MAX_PORTS][MAX_PORTS];
static struct queue queues[MAX_PORTS][MAX_PORTS];
static uint64_t unroutable[MAX_PORTS];
static uint64_t queued_bytes, limit_bytes = 64ull << 20;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "l6wan: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int find_port(const char *name, const char *file, int line)
{
	for (int i = 0; i < nports; i++)
		if (strcmp(port_name[i], name) == 0)
			return i;
	fprintf(stderr, "l6wan: %s:%d: unknown port %s (declare it with 'port')\n", file, line,
		name);
	exit(2);
}

static void parse_config(const char *file)
{
	FILE *f = fopen(file, "r");
	char buf[512];
	int line = 0;

	if (!f)
		die(file);
	while (fgets(buf, sizeof(buf), f)) {
		char a[128], b[128], dir[32];
		char *hash = strchr(buf, '#');
		double ms;

		line++;
		if (hash)
			*hash = 0;
		if (sscanf(buf, "%31s", dir) != 1)
			continue;
		if (strcmp(dir, "port") == 0) {
			if (sscanf(buf, "%*s %127s", a) != 1 || strlen(a) >= IFNAMSIZ)
				goto bad;
			if (nports == MAX_PORTS)
				goto bad;
			snprintf(port_name[nports++], IFNAMSIZ, "%s", a);
		} else if (strcmp(dir, "route") == 0) {
			char *slash;
			struct route *r;

			if (sscanf(buf, "%*s %127s %127s", a, b) != 2 || nroutes == MAX_ROUTES)
				goto bad;
			slash = strchr(a, '/');
			if (!slash)
				goto bad;
			*slash = 0;
			r = &routes[nroutes];
			if (inet_pton(AF_INET6, a, r->prefix) != 1)
				goto bad;
			r->len = atoi(slash + 1);
			if (r->len < 0 || r->len > 128)
				goto bad;
			r->port = find_port(b, file, line);
			nroutes++;
		} else if (strcmp(dir, "delay") == 0 || strcmp(dir, "oneway") == 0) {
			int i, j;

			if (sscanf(buf, "%*s %127s %127s %lf", a, b, &ms) != 3 || ms < 0 || ms > 10000)
				goto bad;
			i = find_port(a, file, line);
			j = find_port(b, file, line);
			delay_ns[i][j] = (uint64_t)(ms * 1e6);
			if (dir[0] == 'd')
				delay_ns[j][i] = delay_ns[i][j];
		} else if (strcmp(dir, "limit") == 0) {
			unsigned long long v;

			if (sscanf(buf, "%*s %llu", &v) != 1 || v < MAX_PKT)
				goto bad;
			limit_bytes = v;
		} else {
			goto bad;
		}
		continue;
bad:
		fprintf(stderr, "l6wan: %s:%d: cannot parse: %s", file, line, buf);
		exit(2);
	}
	fclose(f);
	if (nports == 0) {
		fprintf(stderr, "l6wan: %s: no ports\n", file);
		exit(2);
	}
}

static int open_tun(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		die("/dev/net/tun");
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		die(name);
	return fd;
}

static int lookup(const unsigned char *dst)
{
	int best = -1, bestlen = -1;

	for (int r = 0; r < nroutes; r++) {
		int len = routes[r].len, full = len / 8, rest = len % 8;

		if (len <= bestlen)
			continue;
		if (memcmp(dst, routes[r].prefix, full) != 0)
			continue;
		if (rest) {
			unsigned char mask = (unsigned char)(0xff << (8 - rest));

			if ((dst[full] & mask) != (routes[r].prefix[full] & mask))
				continue;
		}
		best = routes[r].port;
		bestlen = len;
	}
	return best;
}

static void print_counters(void)
{
	for (int i = 0; i < nports; i++) {
		for (int j = 0; j < nports; j++) {
			struct queue *q = &queues[i][j];

			if (q->packets || q->dropped)
				printf("l6wan: %s -> %s delay_ms=%.3f packets=%llu bytes=%llu dropped=%llu\n",
				       port_name[i], port_name[j], delay_ns[i][j] / 1e6,
				       (unsigned long long)q->packets, (unsigned long long)q->bytes,
				       (unsigned long long)q->dropped);
		}
		if (unroutable[i])
			printf("l6wan: %s unroutable=%llu\n", port_name[i],
			       (unsigned long long)unroutable[i]);
	}
	fflush(stdout);
}

static void arm(int tfd)
{
	uint64_t next = UINT64_MAX;
	struct itimerspec its;

	for (int i = 0; i < nports; i++)
		for (int j = 0; j < nports; j++)
			if (queues[i][j].head && queues[i][j].head->due_ns < next)
				next = queues[i][j].head->due_ns;
	memset(&its, 0, sizeof(its));
	if (next != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(next / 1000000000ull);
		its.it_value.tv_nsec = (long)(next % 1000000000ull);
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		die("timerfd_settime");
}

static void flush_due(void)
{
	uint64_t now = now_ns();

	for (int i = 0; i < nports; i++) {
		for (int j = 0; j < nports; j++) {
			struct queue *q = &queues[i][j];

			while (q->head && q->head->due_ns <= now) {
				struct pkt *p = q->head;

				q->head = p->next;
				if (!q->head)
					q->tail = NULL;
				if (write(port_fd[i], p->data, p->len) < 0 && errno != EAGAIN)
					q->dropped++;
				queued_bytes -= p->len;
				free(p);
			}
		}
	}
}

static void receive(int i)
{
	static unsigned char buf[MAX_PKT];

	for (int n = 0; n < 256; n++) {
		ssize_t len = read(port_fd[i], buf, sizeof(buf));
		struct pkt *p;
		struct queue *q;
		int j;

		if (len < 0) {
			if (errno != EAGAIN && errno != EINTR)
				die("read");
			return;
		}
		if (len < 40 || (buf[0] >> 4) != 6) {
			unroutable[i]++;
			continue;
		}
		j = lookup(buf + 24);
		if (j < 0) {
			unroutable[i]++;
			continue;
		}
		q = &queues[i][j];
		if (queued_bytes + (uint64_t)len > limit_bytes) {
			q->dropped++;
			continue;
		}
		p = malloc(sizeof(*p) + (size_t)len);
		if (!p) {
			q->dropped++;
			continue;
		}
		p->next = NULL;
		p->len = (size_t)len;
		p->due_ns = now_ns() + delay_ns[i][j];
		memcpy(p->data, buf, (size_t)len);
		if (q->tail)
			q->tail->next = p;
		else
			q->head = p;
		q->tail = p;
		q->packets++;
		q->bytes += (uint64_t)len;
		queued_bytes += (uint64_t)len;
	}
}

int main(int argc, char **argv)
{
	struct epoll_event ev, events[MAX_PORTS + 2];
	sigset_t mask;
	int ep, tfd, sfd;

	if (argc != 3 || strcmp(argv[1], "-c") != 0) {
		fprintf(stderr, "usage: l6wan -c CONFIG\n");
		return 2;
	}
	parse_config(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);

	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (ep < 0 || tfd < 0 || sfd < 0)
		die("setup");
	for (int i = 0; i < nports; i++) {
		port_fd[i] = open_tun(port_name[i]);
		ev.events = EPOLLIN;
		ev.data.u32 = (uint32_t)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, port_fd[i], &ev) < 0)
			die("epoll_ctl");
	}
	ev.events = EPOLLIN;
	ev.data.u32 = MAX_PORTS;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.u32 = MAX_PORTS + 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	printf("l6wan: ready ports=%d routes=%d\n", nports, nroutes);

	for (;;) {
		int n = epoll_wait(ep, events, MAX_PORTS + 2, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int k = 0; k < n; k++) {
			uint32_t id = events[k].data.u32;

			if (id < MAX_PORTS) {
				receive((int)id);
			} else if (id == MAX_PORTS) {
				uint64_t expirations;

				if (read(tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
					die("timerfd read");
			} else {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					print_counters();
					if (si.ssi_signo != SIGUSR1)
						return 0;
				}
			}
		}
		flush_due();
		arm(tfd);
	}
}
