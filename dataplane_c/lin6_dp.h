/* SPDX-License-Identifier: MIT */
/*
 * Layouts shared by the LIN6 BPF programs (lin6_dp.bpf.c) and their Python
 * control (lin6twisted/dataplane/bpf.py mirrors these with ctypes; keep them
 * in step).  Prefixes and Node IDs are kept as the 8 network-order bytes of
 * the address half, loaded into a __u64 (so they compare with packet bytes
 * without byte swapping).
 */
#ifndef LIN6_DP_H
#define LIN6_DP_H

#include <linux/types.h>

/* lin6_config.flags */
#define LIN6_F_STRICT        (1U << 0) /* ingress: peer Node ID only from its mapped locator(s) */
#define LIN6_F_REROUTE       (1U << 1) /* egress: BPF_LWT_REROUTE instead of BPF_OK */
#define LIN6_F_HOLD_INGRESS  (1U << 2) /* ingress: hold packets from unknown mobile LIN6 Node IDs */
#define LIN6_F_ACTIVE        (1U << 3) /* own identity configured */

/*
 * lin6_cfg[0].  The map is BPF_F_MMAPABLE, which puts the value at the start
 * of a page: the first 64 bytes, everything a mapped packet reads, share one
 * cache line.  gen is the generation of lin6_map (see lin6_cache below); the
 * control stores it with one aligned 8-byte write into the mapped page.
 */
struct lin6_config {
	__u64 gen;                /* generation of lin6_map; 0: mapping cache off */
	__u64 lin6_prefix;        /* the LIN6 prefix (mobile nodes' identifier half) */
	__u64 own_nodeid;
	__u64 own_lin6_prefix;    /* upper half of our own LIN6 address */
	__u64 own_prefix;         /* upper half of our current locator */
	__u32 flags;
	__u8 oui[4];              /* deployment OUI (3 bytes, global bit clear) + pad */
	__u64 own_prev_prefix;    /* previous locator prefix, accepted until own_prev_until */
	__u64 own_prev_until;     /* CLOCK_MONOTONIC ns */
	/* second cache line: the miss path */
	__u64 miss_interval_ns;   /* at most one miss report per Node ID per interval */
	__u32 hold_ifindex;       /* device held (missed) packets are redirected to; 0: drop */
	__u32 pad;
};

struct lin6_mapping {
	__u64 prefix;             /* current locator prefix */
	__u64 prev_prefix;        /* previous locator prefix (strict mode, move grace) */
	__u64 prev_until;         /* CLOCK_MONOTONIC ns; 0: no previous */
};

#define LIN6_MISS_EGRESS  1
#define LIN6_MISS_INGRESS 2

struct lin6_miss_event {
	__u64 nodeid;
	__u64 prefix;             /* ingress: the sender's locator prefix; egress: 0 */
	__u32 direction;          /* LIN6_MISS_* */
	__u32 ifindex;
};

/* Index of each per-CPU counter in lin6_stats (order = Python COUNTER_NAMES). */
enum lin6_counter {
	C_EGRESS_MAPPED = 0,
	C_EGRESS_PASSED,
	C_EGRESS_MISSED,
	C_EGRESS_DROPPED,
	C_INGRESS_MAPPED,
	C_INGRESS_PASSED,
	C_INGRESS_MISSED,
	C_INGRESS_ICMP_MAPPED,
	C_INGRESS_STRICT_DROPPED,
	C_INGRESS_DROPPED,
	C_MISS_REPORTED,
	C_MISS_REPORT_FAILED,
	C_MAX,
};

#define LIN6_STATS_SLOTS 16

/*
 * The per-CPU mapping cache in front of lin6_map: LIN6_CACHE_SLOTS entries
 * per CPU, direct-mapped by the Node ID's last two bytes.  An entry is valid
 * only while its gen equals lin6_config.gen, which the control increments
 * after every change to lin6_map (0 there turns the cache off).
 */
#define LIN6_CACHE_SLOTS 256

struct lin6_cache_slot {
	__u64 gen;                /* lin6_config.gen when filled; 0: empty */
	__u64 nodeid;
	struct lin6_mapping m;
};

#endif
