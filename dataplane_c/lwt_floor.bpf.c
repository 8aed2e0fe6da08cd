// SPDX-License-Identifier: MIT
/*
 * lwt_floor: an LWT xmit program that only returns BPF_OK.  The dp
 * benchmark routes a plain address through it to measure what the LWT xmit
 * hook the design requires costs by itself (lwtunnel_xmit, bpf_xmit,
 * run_lwt_bpf and the call into a program), beside what lin6_egress adds.
 * Not part of the dataplane.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("lwt_xmit")
int lwt_floor(struct __sk_buff *skb)
{
	return BPF_OK;
}
