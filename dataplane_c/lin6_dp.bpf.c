// SPDX-License-Identifier: MIT
/*
 * LIN6 dataplane: identifier/locator mapping in the kernel.
 *
 *  lin6_egress     LWT xmit program on the route for the LIN6 /64.  Maps the
 *                  destination (peer's LIN6 address -> peer's locator) and the
 *                  source (own LIN6 address -> own locator), fixes the L4
 *                  checksum incrementally, returns BPF_OK (route "via" the
 *                  gateway) or BPF_LWT_REROUTE.
 *  lin6_ingress    tc clsact ingress (direct action) on Ethernet devices:
 *                  maps locators back to LIN6 addresses for packets to our
 *                  locator from a known LIN6 Node ID, and the addresses
 *                  quoted in ICMPv6 errors; strict mode drops spoofed ones.
 *  lin6_ingress_l3 the same on devices without a link-layer header (the
 *                  hold device through which held packets are re-injected).
 *
 * A packet that needs a mapping that is not installed is reported through
 * the ring buffer (rate-limited per Node ID) and redirected to the hold
 * device (a TUN the control reads), from which it is sent on once the
 * mapping is installed: the job of the original LIN6 "linsix0" device.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "lin6_dp.h"

#define ETH_HLEN 14
#define ETH_P_IPV6 0x86DD
#define IP6_HLEN 40
#define NEXTHDR_HOP 0
#define NEXTHDR_TCP 6
#define NEXTHDR_UDP 17
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_ICMP 58
#define NEXTHDR_DEST 60
#define MAX_EXT_HDRS 4

#define OFF_SRC 8
#define OFF_DST 24
#define OFF_NEXTHDR 6

/* skb->ip_summed */
#define CHECKSUM_NONE 0
#define CHECKSUM_UNNECESSARY 1
#define CHECKSUM_COMPLETE 2
#define CHECKSUM_PARTIAL 3
#define CSUM_MANGLED_0 0xffff

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/*
 * The kernel's struct sk_buff, as far as we read it: the ip_summed
 * bitfield, found in the running kernel's BTF by libbpf (CO-RE) at load.
 */
struct sk_buff___lin6 {
	__u8 ip_summed:2;
} __attribute__((preserve_access_index));

/* The __sk_buff context as the kernel's sk_buff; the verifier inlines it. */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct lin6_mapping);
} lin6_map SEC(".maps");

/*
 * Per-CPU copies of recently used lin6_map entries.  A hash-map lookup is a
 * chain of calls (__htab_map_lookup_elem, jhash, the bucket walk, memcmp);
 * with the kernel's speculative-execution mitigations each call and return
 * costs several ns, and the two lookups per packet (egress on one host,
 * ingress on the other) were ~3 % of a 64-byte UDP packet's path.  Array
 * lookups are inlined by the verifier.  Every program runs with bottom
 * halves off, so a CPU's slots are never written by two programs at once.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LIN6_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct lin6_cache_slot);
} lin6_cache SEC(".maps");

/* Mappable: the value starts a page, so its hot first 64 bytes are one line. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct lin6_config);
} lin6_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LIN6_STATS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} lin6_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} lin6_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u64);
} lin6_misslimit SEC(".maps");

/* The first 40 bytes of an IPv6 header, as 64-bit halves. */
struct ip6_addrs {
	__u32 vtcfl;
	__u16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u64 src_hi;
	__u64 src_lo;
	__u64 dst_hi;
	__u64 dst_lo;
};

static __always_inline void count(enum lin6_counter c)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&lin6_stats, &key);

	if (v)
		*v += 1;
}

static __always_inline struct lin6_config *config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&lin6_cfg, &zero);
}

/* Whether the Node ID (8 network-order bytes in a __u64) is a mobile LIN6 one. */
static __always_inline int is_mobile_lin6(const struct lin6_config *cfg, __u64 nodeid)
{
	const __u8 *b = (const __u8 *)&nodeid;

	return b[0] == (cfg->oui[0] | 0x02) && b[1] == cfg->oui[1] && b[2] == cfg->oui[2];
}

static __always_inline int in_grace(__u64 until, __u64 now)
{
	return until && now < until;
}

/*
 * The mapping of nodeid: from this CPU's cache when the entry there is of
 * the current generation (cfg->gen), else from lin6_map (and then cached).
 * The generation is read before lin6_map, so an entry filled while the
 * control was changing the map carries the older generation and is not
 * trusted once the control has incremented it.
 */
static __always_inline struct lin6_mapping *lookup_mapping(const struct lin6_config *cfg,
							   __u64 nodeid)
{
	const __u8 *b = (const __u8 *)&nodeid;
	__u32 index = (b[7] ^ b[6]) & (LIN6_CACHE_SLOTS - 1);
	__u64 gen = *(volatile const __u64 *)&cfg->gen;
	struct lin6_cache_slot *slot;
	struct lin6_mapping *m;

	slot = bpf_map_lookup_elem(&lin6_cache, &index);
	if (gen && slot && slot->gen == gen && slot->nodeid == nodeid)
		return &slot->m;
	m = bpf_map_lookup_elem(&lin6_map, &nodeid);
	if (m && gen && slot) {
		slot->gen = 0;
		slot->nodeid = nodeid;
		slot->m = *m;
		slot->gen = gen;
	}
	return m;
}

/* Report a miss for nodeid, at most once per miss_interval_ns per Node ID. */
static __always_inline void report_miss(const struct lin6_config *cfg, __u64 nodeid, __u64 prefix,
					__u32 direction, __u32 ifindex)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 *last = bpf_map_lookup_elem(&lin6_misslimit, &nodeid);
	struct lin6_miss_event *ev;

	if (last && now - *last < cfg->miss_interval_ns)
		return;
	bpf_map_update_elem(&lin6_misslimit, &nodeid, &now, BPF_ANY);
	ev = bpf_ringbuf_reserve(&lin6_events, sizeof(*ev), 0);
	if (!ev) {
		count(C_MISS_REPORT_FAILED);
		return;
	}
	ev->nodeid = nodeid;
	ev->prefix = prefix;
	ev->direction = direction;
	ev->ifindex = ifindex;
	bpf_ringbuf_submit(ev, 0);
	count(C_MISS_REPORTED);
}

/*
 * Find the transport header behind the IPv6 header at l3.  Returns the
 * protocol and sets *l4off, or returns -1 when there is no L4 checksum to
 * fix (unknown protocol, non-first fragment, too many extension headers).
 */
static __always_inline int find_l4(struct __sk_buff *skb, __u32 l3, __u8 nexthdr, __u32 *l4off)
{
	__u32 off = l3 + IP6_HLEN;
	__u8 ext[2];
	__u16 frag;

#pragma unroll
	for (int i = 0; i < MAX_EXT_HDRS; i++) {
		switch (nexthdr) {
		case NEXTHDR_TCP:
		case NEXTHDR_UDP:
		case NEXTHDR_ICMP:
			*l4off = off;
			return nexthdr;
		case NEXTHDR_HOP:
		case NEXTHDR_ROUTING:
		case NEXTHDR_DEST:
			if (bpf_skb_load_bytes(skb, off, ext, 2) < 0)
				return -1;
			nexthdr = ext[0];
			off += (ext[1] + 1) * 8;
			break;
		case NEXTHDR_FRAGMENT:
			if (bpf_skb_load_bytes(skb, off, ext, 2) < 0 ||
			    bpf_skb_load_bytes(skb, off + 2, &frag, 2) < 0)
				return -1;
			if (bpf_ntohs(frag) & 0xfff8)
				return -1; /* not the first fragment: no L4 header here */
			nexthdr = ext[0];
			off += 8;
			break;
		default:
			return -1;
		}
	}
	return -1;
}

/* Where the L4 checksum field of proto sits behind its header at l4off; 0: none. */
static __always_inline __u32 l4_csum_off(int proto, __u32 l4off)
{
	switch (proto) {
	case NEXTHDR_TCP:
		return l4off + 16;
	case NEXTHDR_UDP:
		return l4off + 6;
	case NEXTHDR_ICMP:
		return l4off + 2;
	default:
		return 0;
	}
}

/* Fix the L4 checksum for a change of the pseudo-header by diff (helper). */
static __always_inline int fix_l4(struct __sk_buff *skb, int proto, __u32 l4off, __s64 diff,
				  __u64 pseudo)
{
	__u32 csum_off = l4_csum_off(proto, l4off);
	__u64 flags = pseudo;

	if (!csum_off)
		return 0;
	if (proto == NEXTHDR_UDP)
		flags |= BPF_F_MARK_MANGLED_0;
	return bpf_l4_csum_replace(skb, csum_off, 0, diff, flags);
}

/* skb->ip_summed (CHECKSUM_*), read from the kernel's sk_buff. */
static __always_inline __u32 ip_summed(struct __sk_buff *skb)
{
	struct sk_buff___lin6 *kskb = bpf_cast_to_kern_ctx(skb);

	return BPF_CORE_READ_BITFIELD(kskb, ip_summed);
}

/*
 * The L4 checksum field csum for a change diff (a 32-bit one's-complement
 * sum) of the pseudo-header, exactly as bpf_l4_csum_replace(BPF_F_PSEUDO_HDR)
 * computes it for an skb that is not CHECKSUM_COMPLETE
 * (inet_proto_csum_replace_by_diff): for CHECKSUM_PARTIAL the field holds
 * the uncomplemented pseudo-header sum the device (or the software
 * fallback) starts from, csum = ~csum_fold(csum_add(diff, csum)); otherwise
 * it is a complete checksum, csum = csum_fold(csum_add(diff, ~csum)).
 * csum and diff are native loads of network-order bytes, as in the kernel
 * (one's-complement sums do not depend on the byte order).
 */
static __always_inline __u16 csum_by_diff(__u16 csum, __u32 diff, int partial)
{
	__u32 field = partial ? (__u32)csum : ~(__u32)csum;
	__u64 sum = (__u64)diff + field;

	sum = (sum & 0xffffffff) + (sum >> 32); /* csum_add: end-around carry */
	sum = (sum & 0xffff) + (sum >> 16);     /* csum_fold */
	sum = (sum & 0xffff) + (sum >> 16);
	return partial ? (__u16)sum : (__u16)~sum;
}

/*
 * Fix the L4 checksum of proto (header at l4off) for a change of the
 * pseudo-header by diff, writing the field directly when it is in the
 * linear area (no helper call).  CHECKSUM_COMPLETE skbs, whose skb->csum
 * must follow the change, and fields beyond the linear area go through
 * bpf_l4_csum_replace.  Invalidates packet pointers (helper path).
 */
static __always_inline int fix_l4_inline(struct __sk_buff *skb, int proto, __u32 l4off,
					 __s64 diff, __u32 summed)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 csum_off = l4_csum_off(proto, l4off);
	__u16 *field, old, new;

	if (!csum_off)
		return 0;
	/* (the helper refuses offsets past 0xffff: so do we, by calling it) */
	if (summed == CHECKSUM_COMPLETE || csum_off > 0xffff)
		return fix_l4(skb, proto, l4off, diff, BPF_F_PSEUDO_HDR);
	field = data + csum_off;
	if ((void *)(field + 1) > end)
		return fix_l4(skb, proto, l4off, diff, BPF_F_PSEUDO_HDR);
	/* direct access: the linear area was made writable (unclone prologue) */
	old = *field;
	if (proto == NEXTHDR_UDP && !old)
		return 0; /* no UDP checksum: leave it so (BPF_F_MARK_MANGLED_0) */
	new = csum_by_diff(old, (__u32)diff, summed == CHECKSUM_PARTIAL);
	if (proto == NEXTHDR_UDP && !new)
		new = CSUM_MANGLED_0;
	*field = new;
	return 0;
}

/*
 * Rewrite the two prefixes (upper address halves) of the IPv6 header at l3
 * and fix the L4 checksum.  diff_pseudo says whether the L4 checksum covers
 * these addresses as its pseudo-header (outer header) or as payload (an
 * IPv6 header quoted inside an ICMPv6 error).
 */
static __always_inline __u64 csum_words(__u64 v)
{
	return (v & 0xffffffff) + (v >> 32);
}

/*
 * The one's-complement difference (as bpf_csum_diff() computes it) between
 * two pairs of address halves, computed inline: no helper call.
 */
static __always_inline __s64 prefix_diff(__u64 old_src, __u64 new_src, __u64 old_dst, __u64 new_dst)
{
	__u64 sum = csum_words(~old_src) + csum_words(~old_dst) + csum_words(new_src) +
		    csum_words(new_dst);

	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return (__s64)sum;
}

static __always_inline int store_prefixes(struct __sk_buff *skb, __u32 l3, __u64 src, __u64 dst,
					  __u64 flags)
{
	if (bpf_skb_store_bytes(skb, l3 + OFF_SRC, &src, 8, flags) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, l3 + OFF_DST, &dst, 8, flags) < 0)
		return -1;
	return 0;
}

/* Hold a packet that missed: redirect it to the hold device, or drop it. */
static __always_inline int hold(const struct lin6_config *cfg)
{
	if (cfg->hold_ifindex)
		return bpf_redirect(cfg->hold_ifindex, 0) == TC_ACT_REDIRECT ? 1 : 0;
	return 0;
}

/*
 * The IPv6 header at l3 by direct packet access, pulling it into the
 * linear area first if needed; NULL if the packet is too short.
 */
static __always_inline struct ip6_addrs *ip6_header(struct __sk_buff *skb, __u32 l3)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (data + l3 + sizeof(struct ip6_addrs) > end) {
		if (bpf_skb_pull_data(skb, l3 + sizeof(struct ip6_addrs)) < 0)
			return NULL;
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
		if (data + l3 + sizeof(struct ip6_addrs) > end)
			return NULL;
	}
	return data + l3;
}

SEC("lwt_xmit")
int lin6_egress(struct __sk_buff *skb)
{
	struct lin6_config *cfg = config();
	struct lin6_mapping *m;
	struct ip6_addrs *h;
	__u64 old_src, old_dst, new_src, nodeid;
	__u32 l4off = 0;
	__u8 nexthdr;
	__s64 diff;
	int proto;

	if (!cfg || !(cfg->flags & LIN6_F_ACTIVE))
		goto pass;
	h = ip6_header(skb, 0);
	if (!h || (h->vtcfl & 0xf0) != 0x60 || h->dst_hi != cfg->lin6_prefix)
		goto pass;
	nodeid = h->dst_lo;
	m = lookup_mapping(cfg, nodeid);
	if (!m) {
		count(C_EGRESS_MISSED);
		report_miss(cfg, nodeid, 0, LIN6_MISS_EGRESS, skb->ifindex);
		if (hold(cfg))
			return BPF_REDIRECT;
		return BPF_DROP;
	}
	old_src = h->src_hi;
	old_dst = h->dst_hi;
	new_src = old_src;
	if (h->src_lo == cfg->own_nodeid && old_src == cfg->own_lin6_prefix)
		new_src = cfg->own_prefix;
	h->src_hi = new_src;
	h->dst_hi = m->prefix;
	nexthdr = h->nexthdr;
	diff = prefix_diff(old_src, new_src, old_dst, m->prefix);
	proto = find_l4(skb, 0, nexthdr, &l4off);
	if (proto > 0 && fix_l4_inline(skb, proto, l4off, diff, ip_summed(skb)) < 0)
		goto drop;
	count(C_EGRESS_MAPPED);
	return (cfg->flags & LIN6_F_REROUTE) ? BPF_LWT_REROUTE : BPF_OK;
pass:
	count(C_EGRESS_PASSED);
	return BPF_OK;
drop:
	count(C_EGRESS_DROPPED);
	return BPF_DROP;
}

/* Whether prefix is (or, during the move grace, was) our own locator prefix. */
static __always_inline int own_locator(const struct lin6_config *cfg, __u64 hi, __u64 lo)
{
	if (lo != cfg->own_nodeid)
		return 0;
	return hi == cfg->own_prefix ||
	       (hi == cfg->own_prev_prefix && in_grace(cfg->own_prev_until, bpf_ktime_get_ns()));
}

static __always_inline int peer_locator_ok(const struct lin6_mapping *m, __u64 hi)
{
	return hi == m->prefix || (hi == m->prev_prefix && in_grace(m->prev_until, bpf_ktime_get_ns()));
}

/* The LIN6 upper half of a peer: the LIN6 prefix for mobile Node IDs. */
static __always_inline __u64 peer_lin6_prefix(const struct lin6_config *cfg, __u64 hi, __u64 lo)
{
	return is_mobile_lin6(cfg, lo) ? cfg->lin6_prefix : hi;
}

/*
 * An ICMPv6 error to our locator quoting one of our mapped packets: map the
 * outer destination and the quoted source and destination back, so the error
 * reaches the socket (path-MTU discovery, unreachable).
 */
static __always_inline int ingress_icmp_error(struct __sk_buff *skb, const struct lin6_config *cfg,
					      __u32 l3, __u64 outer_dst_hi)
{
	__u32 icmp = l3 + IP6_HLEN;
	__u32 inner = icmp + 8;
	struct lin6_mapping *m;
	struct ip6_addrs q;
	__u8 type;
	__u64 q_dst;
	__s64 diff;

	if (bpf_skb_load_bytes(skb, icmp, &type, 1) < 0 || type >= 128)
		return 0;
	if (bpf_skb_load_bytes(skb, inner, &q, sizeof(q)) < 0)
		return 0;
	if (!own_locator(cfg, q.src_hi, q.src_lo))
		return 0;
	m = bpf_map_lookup_elem(&lin6_map, &q.dst_lo);
	if (!m || !peer_locator_ok(m, q.dst_hi))
		return 0;
	q_dst = peer_lin6_prefix(cfg, q.dst_hi, q.dst_lo);
	/*
	 * The outer destination is part of the ICMPv6 pseudo-header, the quoted
	 * addresses part of its payload: the checksum field changes by the sum
	 * of both.  The stores keep a CHECKSUM_COMPLETE skb->csum right for the
	 * bytes they change; BPF_F_PSEUDO_HDR makes the csum replace account
	 * for the changed checksum field itself.
	 */
	diff = prefix_diff(0, 0, outer_dst_hi, cfg->own_lin6_prefix) +
	       prefix_diff(q.src_hi, cfg->own_lin6_prefix, q.dst_hi, q_dst);
	diff = (diff & 0xffffffff) + (diff >> 32);
	diff = (diff & 0xffffffff) + (diff >> 32);
	if (bpf_skb_store_bytes(skb, l3 + OFF_DST, &cfg->own_lin6_prefix, 8, BPF_F_RECOMPUTE_CSUM) < 0)
		return -1;
	if (store_prefixes(skb, inner, cfg->own_lin6_prefix, q_dst, BPF_F_RECOMPUTE_CSUM) < 0)
		return -1;
	if (bpf_l4_csum_replace(skb, icmp + 2, 0, diff, BPF_F_PSEUDO_HDR) < 0)
		return -1;
	return 1;
}

static __always_inline int ingress(struct __sk_buff *skb, __u32 l3)
{
	struct lin6_config *cfg = config();
	struct lin6_mapping *m;
	struct ip6_addrs *h;
	__u64 old_src, old_dst, new_src, src_lo;
	__u32 l4off = 0, summed;
	__u8 nexthdr;
	__s64 diff;
	int proto, r;

	if (!cfg || !(cfg->flags & LIN6_F_ACTIVE))
		goto pass;
	if (skb->protocol != bpf_htons(ETH_P_IPV6))
		goto pass;
	h = ip6_header(skb, l3);
	if (!h || (h->vtcfl & 0xf0) != 0x60)
		goto pass;
	if (!own_locator(cfg, h->dst_hi, h->dst_lo))
		goto pass;
	src_lo = h->src_lo;
	old_src = h->src_hi;
	old_dst = h->dst_hi;
	nexthdr = h->nexthdr;
	m = lookup_mapping(cfg, src_lo);
	if (!m) {
		if (nexthdr == NEXTHDR_ICMP) {
			r = ingress_icmp_error(skb, cfg, l3, old_dst);
			if (r < 0)
				goto drop;
			if (r > 0) {
				count(C_INGRESS_ICMP_MAPPED);
				return TC_ACT_OK;
			}
		}
		if ((cfg->flags & LIN6_F_HOLD_INGRESS) && is_mobile_lin6(cfg, src_lo)) {
			count(C_INGRESS_MISSED);
			report_miss(cfg, src_lo, old_src, LIN6_MISS_INGRESS, skb->ifindex);
			if (skb->ifindex != cfg->hold_ifindex && hold(cfg))
				return TC_ACT_REDIRECT;
			goto drop;
		}
		goto pass;
	}
	if (!peer_locator_ok(m, old_src) && (cfg->flags & LIN6_F_STRICT)) {
		count(C_INGRESS_STRICT_DROPPED);
		return TC_ACT_SHOT;
	}
	new_src = peer_lin6_prefix(cfg, old_src, src_lo);
	h->src_hi = new_src;
	h->dst_hi = cfg->own_lin6_prefix;
	diff = prefix_diff(old_src, new_src, old_dst, cfg->own_lin6_prefix);
	summed = ip_summed(skb);
	if (summed == CHECKSUM_COMPLETE)
		bpf_csum_update(skb, diff); /* skb->csum covers the header we changed */
	proto = find_l4(skb, l3, nexthdr, &l4off);
	if (proto > 0 && fix_l4_inline(skb, proto, l4off, diff, summed) < 0)
		goto drop;
	count(C_INGRESS_MAPPED);
	return TC_ACT_OK;
pass:
	count(C_INGRESS_PASSED);
	return TC_ACT_OK;
drop:
	count(C_INGRESS_DROPPED);
	return TC_ACT_SHOT;
}

SEC("tc")
int lin6_ingress(struct __sk_buff *skb)
{
	return ingress(skb, ETH_HLEN);
}

SEC("tc")
int lin6_ingress_l3(struct __sk_buff *skb)
{
	return ingress(skb, 0);
}
