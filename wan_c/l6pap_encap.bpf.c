// SPDX-License-Identifier: MIT
/*
 * l6pap_encap: the encapsulating baseline of the paper comparison (an
 * IPv6-in-IPv6 tunnel like Mobile IPv6's bidirectional tunnel), for kernels
 * without ip6_tunnel.
 *
 *  l6pap_encap  tc clsact egress (direct action): packets to the peer's
 *               inner address get an outer IPv6 header (40 bytes, next
 *               header 41), or an outer IPv6 header and a basic 4-byte GRE
 *               header (44 bytes, next header 47, protocol 0x86DD), from
 *               the template in l6pap_cfg, with bpf_skb_adjust_room and
 *               BPF_F_ADJ_ROOM_FIXED_GSO, like a tunnel device: the route
 *               to the inner address has its MTU lowered by the overhead,
 *               so TCP's segments already fit.  (An LWT xmit program with
 *               bpf_lwt_push_encap was tried first: that helper shrinks a
 *               GSO packet's segment size by the encap length even when
 *               the MTU already allows for it, so 2 x 1384-byte segments
 *               left as 1340 + 1340 + 88 bytes and the tunnel looked 3%
 *               worse than it is.)
 *  l6pap_decap  tc clsact ingress (direct action): strips that outer
 *               header from packets addressed to our outer address and
 *               hands the inner packet to the stack; any other packet goes
 *               on to the next filter (TC_ACT_UNSPEC).
 *
 * Both read the one-entry array l6pap_cfg: the outer header template (its
 * source and destination are the tunnel end points), its length, and the
 * peer's inner address.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_HLEN 14
#define ETH_P_IPV6 0x86DD
#define IP6_HLEN 40
#define GRE_HLEN 4
#define NEXTHDR_IPV6 41
#define NEXTHDR_GRE 47
#define MAX_HDR (IP6_HLEN + GRE_HLEN)

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct l6pap_cfg {
	__u8 hdr[MAX_HDR];	/* outer IPv6 header (+ GRE header) template */
	__u32 len;		/* 40 or 44; 0: the tunnel is off */
	__u8 inner_remote[16];	/* packets to this inner address are tunnelled */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct l6pap_cfg);
} l6pap_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} l6pap_stats SEC(".maps");

enum { ST_ENCAP, ST_ENCAP_FAIL, ST_DECAP, ST_DECAP_FAIL };

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&l6pap_stats, &which);

	if (v)
		*v += 1;
}

static __always_inline struct l6pap_cfg *config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&l6pap_cfg, &zero);
}

SEC("tc")
int l6pap_encap(struct __sk_buff *skb)
{
	struct l6pap_cfg *cfg = config();
	__u8 inner[IP6_HLEN];
	__u8 hdr[MAX_HDR];
	__u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6;
	__u32 payload;
	__u32 len;
	long err;
	int i;

	if (!cfg || skb->protocol != bpf_htons(ETH_P_IPV6))
		return TC_ACT_OK;
	len = cfg->len;
	if (len != IP6_HLEN && len != MAX_HDR)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, inner, IP6_HLEN) < 0)
		return TC_ACT_OK;
#pragma unroll
	for (i = 0; i < 16; i++)
		if (inner[24 + i] != cfg->inner_remote[i])
			return TC_ACT_OK;
	__builtin_memcpy(hdr, cfg->hdr, MAX_HDR);
	/* Outer payload: the inner packet (+ GRE); GSO segmentation rewrites
	 * it per segment. */
	payload = ((__u32)inner[4] << 8 | inner[5]) + len;
	hdr[4] = payload >> 8;
	hdr[5] = payload & 0xff;
	/* FIXED_GSO: the inner MSS already fits the tunnel (the route's MTU is
	 * lowered by the overhead), so segments keep their size. */
	if (len == IP6_HLEN) {
		err = bpf_skb_adjust_room(skb, IP6_HLEN, BPF_ADJ_ROOM_MAC, flags);
		if (!err)
			err = bpf_skb_store_bytes(skb, ETH_HLEN, hdr, IP6_HLEN,
						  BPF_F_INVALIDATE_HASH);
	} else {
		flags |= BPF_F_ADJ_ROOM_ENCAP_L4_GRE;
		err = bpf_skb_adjust_room(skb, MAX_HDR, BPF_ADJ_ROOM_MAC, flags);
		if (!err)
			err = bpf_skb_store_bytes(skb, ETH_HLEN, hdr, MAX_HDR,
						  BPF_F_INVALIDATE_HASH);
	}
	if (err) {
		count(ST_ENCAP_FAIL);
		return TC_ACT_SHOT;
	}
	count(ST_ENCAP);
	return TC_ACT_OK;
}

SEC("tc")
int l6pap_decap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct l6pap_cfg *cfg = config();
	__u8 *ip6 = data + ETH_HLEN;
	__u32 len;
	int i;

	if (!cfg || skb->protocol != bpf_htons(ETH_P_IPV6))
		return TC_ACT_UNSPEC;
	len = cfg->len;
	if (len != IP6_HLEN && len != MAX_HDR)
		return TC_ACT_UNSPEC;
	if ((void *)(ip6 + MAX_HDR) > end)
		return TC_ACT_UNSPEC;
	if (ip6[6] != (len == IP6_HLEN ? NEXTHDR_IPV6 : NEXTHDR_GRE))
		return TC_ACT_UNSPEC;
	/* Ours if its destination is our outer address: the template's
	 * source (the template is the one we send with). */
#pragma unroll
	for (i = 0; i < 16; i++)
		if (ip6[24 + i] != cfg->hdr[8 + i])
			return TC_ACT_UNSPEC;
	if (len == MAX_HDR) {
		/* basic GRE: no flags, version 0, protocol IPv6 */
		if (ip6[40] != 0 || ip6[41] != 0 || ip6[42] != 0x86 || ip6[43] != 0xdd)
			return TC_ACT_UNSPEC;
	}
	if (bpf_skb_adjust_room(skb, -(__s32)len, BPF_ADJ_ROOM_MAC, 0) < 0) {
		count(ST_DECAP_FAIL);
		return TC_ACT_SHOT;
	}
	count(ST_DECAP);
	return TC_ACT_OK;
}
