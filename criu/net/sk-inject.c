/*
 * Packets criu makes up as if a peer had sent them: the FIN or ACK that
 * brings a restored TCP connection into its half-closed state, and the
 * datagrams a UDP socket had queued, each from its own source. They go
 * out through a raw socket with our own IP header (so any source address
 * will do) and the lock's mark, so that the network lock lets them pass.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "sk-inet.h"

#define MAX_PACKET	(65535 + 40)

static uint32_t sum16(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/* The pseudo-header sum of TCP, UDP and UDP-Lite. */
static uint32_t pseudo(const struct inet_ep *from, const struct inet_ep *to, int proto, size_t len)
{
	int alen = from->family == AF_INET6 ? 16 : 4;
	uint32_t sum = 0;

	sum = sum16(from->addr, alen, sum);
	sum = sum16(to->addr, alen, sum);
	sum += proto;
	sum += len & 0xffff;
	sum += len >> 16;
	return sum;
}

/* Wrap @l4 (its checksum filled) in an IP header and send it. */
static int send_ip(const struct inet_ep *from, const struct inet_ep *to, int proto, const uint8_t *l4, size_t len)
{
	int v6 = from->family == AF_INET6, sk, mark = NET_LOCK_MARK, ret = -1;
	size_t hl = v6 ? sizeof(struct ip6_hdr) : sizeof(struct iphdr);
	uint8_t *pkt = malloc(hl + len);
	struct sockaddr_storage ss;
	socklen_t slen;

	if (!pkt) {
		pr_err("out of memory\n");
		return -1;
	}
	memset(pkt, 0, hl);
	if (v6) {
		struct ip6_hdr *h = (struct ip6_hdr *)pkt;

		h->ip6_flow = htonl(6 << 28);
		h->ip6_plen = htons(len);
		h->ip6_nxt = proto;
		h->ip6_hlim = 64;
		memcpy(&h->ip6_src, from->addr, 16);
		memcpy(&h->ip6_dst, to->addr, 16);
	} else {
		struct iphdr *h = (struct iphdr *)pkt;

		h->version = 4;
		h->ihl = 5;
		h->tot_len = htons(hl + len);
		h->frag_off = htons(IP_DF);
		h->ttl = 64;
		h->protocol = proto;
		memcpy(&h->saddr, from->addr, 4);
		memcpy(&h->daddr, to->addr, 4);
		/* the kernel fills in the id and the header checksum */
	}
	memcpy(pkt + hl, l4, len);
	sk = socket(from->family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (sk < 0) {
		pr_perror("can't make a raw socket to send a packet");
		goto out;
	}
	if (setsockopt(sk, SOL_SOCKET, SO_MARK, &mark, sizeof(mark))) {
		pr_perror("can't mark our packets");
		goto out;
	}
	slen = inet_ep_sockaddr(to, &ss);
	/* a raw IPv6 socket wants the port field zero */
	if (v6)
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	else
		((struct sockaddr_in *)&ss)->sin_port = 0;
	if (sendto(sk, pkt, hl + len, 0, (struct sockaddr *)&ss, slen) != (ssize_t)(hl + len)) {
		pr_perror("can't send a packet of %zu bytes", hl + len);
		goto out;
	}
	ret = 0;
out:
	if (sk >= 0)
		close(sk);
	free(pkt);
	return ret;
}

int inject_tcp(const struct inet_ep *from, const struct inet_ep *to, uint32_t seq, uint32_t ack, uint8_t flags,
	       uint16_t win)
{
	struct tcphdr th;

	if (from->family != to->family)
		return -1;
	memset(&th, 0, sizeof(th));
	th.th_sport = htons(from->port);
	th.th_dport = htons(to->port);
	th.th_seq = htonl(seq);
	th.th_ack = htonl(ack);
	th.th_off = sizeof(th) / 4;
	th.th_flags = flags;
	th.th_win = htons(win);
	th.th_sum = fold(sum16(&th, sizeof(th), pseudo(from, to, IPPROTO_TCP, sizeof(th))));
	return send_ip(from, to, IPPROTO_TCP, (uint8_t *)&th, sizeof(th));
}

int inject_udp(int protocol, const struct inet_ep *from, const struct inet_ep *to, const void *data, size_t len,
	       int cscov)
{
	size_t total = sizeof(struct udphdr) + len, covered = total;
	struct udphdr *uh;
	uint8_t *buf;
	int ret;

	if (from->family != to->family || total > 65535) {
		pr_err("a datagram of %zu bytes can't be sent again\n", len);
		return -1;
	}
	buf = malloc(total);
	if (!buf)
		return -1;
	uh = (struct udphdr *)buf;
	uh->uh_sport = htons(from->port);
	uh->uh_dport = htons(to->port);
	uh->uh_sum = 0;
	if (protocol == IPPROTO_UDPLITE) {
		/* the length field is the checksum coverage; 0 covers everything */
		if (cscov > 0 && (size_t)cscov < total)
			covered = cscov < 8 ? 8 : cscov;
		uh->uh_ulen = htons(covered == total ? 0 : covered);
	} else {
		uh->uh_ulen = htons(total);
	}
	memcpy(buf + sizeof(*uh), data, len);
	uh->uh_sum = fold(sum16(buf, covered, pseudo(from, to, protocol, total)));
	if (!uh->uh_sum)
		uh->uh_sum = 0xffff;
	ret = send_ip(from, to, protocol, buf, total);
	free(buf);
	return ret;
}
