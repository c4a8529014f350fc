/*
 * Packet sockets (AF_PACKET): SOCK_RAW and SOCK_DGRAM, and SOCK_PACKET, the
 * old interface. The protocol, the interface bound to, memberships and the
 * fanout come from packet_diag (sk-diag.c), options from getsockopt on a
 * pidfd_getfd() copy of the fd (PACKET_FANOUT there, for its flags).
 *
 * Rings (PACKET_RX_RING, PACKET_TX_RING; TPACKET_V1, V2, V3). A ring is
 * memory the kernel and the task share: slots (frames, or blocks for a V3
 * receive ring) with a status word each, and a cursor on each side. The
 * task's cursor is in its memory; the kernel's (the slot it fills or sends
 * next) nothing shows. criu maps the ring itself (a mapping of its copy of
 * the fd) and finds the kernel's cursor:
 *  - receive: poll() says readable when the slot before the cursor is not
 *    the kernel's, so with slots marked as the task's (which keeps the
 *    kernel off them) a binary search finds it; when every slot is the
 *    task's, the cursor is at the oldest one (timestamps); when slots
 *    handed to the task form one run, the cursor is right after it.
 *  - transmit: a send() stops at the cursor unless its slot asks to be
 *    sent; with malformed requests in a set of slots, it fails iff the
 *    cursor is among them (nothing is sent), and a binary search finds it.
 * Every status is put back as it was. Slots holding something the task has
 * not taken (frames handed to it, frames it asked to send) are saved.
 *
 * At restore the new socket's rings start at slot 0: criu moves the
 * kernel's cursor to where it was by sending frames through the ring
 * (transmit) or to the socket over loopback (receive; for V3, block by
 * block, each next block marked as the task's so that no frame lands in
 * it), then writes the saved slots back, before the socket is bound and
 * the task maps the ring (at the same address, mem.c / the restorer).
 * Statistics (PACKET_STATISTICS) start again from zero, as reading them
 * does. Frames queued on a socket without a ring, and frames in the V3
 * block the kernel was still filling, can't be read without taking them:
 * they are lost, with a warning.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fdkinds.h"
#include "files.h"
#include "log.h"
#include "net.h"
#include "sk-diag.h"
#include "sk-opts.h"
#include "sk-packet.h"
#include "util.h"

#ifndef PACKET_VNET_HDR_SZ
#define PACKET_VNET_HDR_SZ	24
#endif
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING	23
#endif
#ifndef SOCK_PACKET
#define SOCK_PACKET		10
#endif

/* What criu sends over loopback to move a receive ring's cursor: nobody else's. */
#define INJECT_PROTO		0x88B5	/* IEEE 802 local experimental ethertype 1 */
#define INJECT_COOKIE		0xC1D0C114U
#define MAX_RING_SAVED		(48U << 20)	/* queued bytes kept per socket (images take 64 MiB an entry) */

static const struct sk_opt pkt_tab[] = {
	/* all before the rings: VERSION, RESERVE, LOSS, VNET_HDR and TX_HAS_OFF can't change once there is one */
	SK_OPT(SOL_PACKET, PACKET_VERSION, PacketSkEntry, version, SK_OPT_EARLY),
	SK_OPT(SOL_PACKET, PACKET_RESERVE, PacketSkEntry, reserve, SK_OPT_EARLY),
	SK_OPT(SOL_PACKET, PACKET_AUXDATA, PacketSkEntry, auxdata, SK_OPT_EARLY),
	SK_OPT(SOL_PACKET, PACKET_ORIGDEV, PacketSkEntry, origdev, SK_OPT_EARLY),
	SK_OPT(SOL_PACKET, PACKET_VNET_HDR, PacketSkEntry, vnet_hdr, SK_OPT_EARLY),
	SK_OPT(SOL_PACKET, PACKET_VNET_HDR_SZ, PacketSkEntry, vnet_hdr_sz, SK_OPT_EARLY),
	SK_OPT(SOL_PACKET, PACKET_LOSS, PacketSkEntry, loss, SK_OPT_EARLY),
	SK_OPT(SOL_PACKET, PACKET_TIMESTAMP, PacketSkEntry, timestamp, SK_OPT_EARLY),
	SK_OPT(SOL_PACKET, PACKET_QDISC_BYPASS, PacketSkEntry, qdisc_bypass, SK_OPT_EARLY),
	SK_OPT(SOL_PACKET, PACKET_TX_HAS_OFF, PacketSkEntry, tx_has_off, SK_OPT_EARLY),
	SK_OPT(SOL_PACKET, PACKET_IGNORE_OUTGOING, PacketSkEntry, ignore_outgoing, SK_OPT_EARLY),
};

static const char *type_name(int type)
{
	return type == SOCK_RAW ? "raw" : type == SOCK_DGRAM ? "dgram" : type == SOCK_PACKET ? "SOCK_PACKET" : "?";
}

/* ---- rings ---- */

struct ring {
	uint8_t *base;
	int rx;			/* a receive ring */
	int version;
	int blocks;		/* its slots are blocks (V3 receive), else frames */
	uint32_t block_size, block_nr, frame_size, frame_nr;
	uint32_t nslots;
	size_t size;
	const char *who;
};

static size_t ring_bytes(const PacketRingEntry *r)
{
	return (size_t)r->block_size * r->block_nr;
}

static int ring_init(struct ring *r, const PacketRingEntry *re, int version, int rx, uint8_t *base, const char *who)
{
	memset(r, 0, sizeof(*r));
	r->base = base;
	r->rx = rx;
	r->version = version;
	r->blocks = rx && version == TPACKET_V3;
	r->block_size = re->block_size;
	r->block_nr = re->block_nr;
	r->frame_size = re->frame_size;
	r->frame_nr = re->frame_nr;
	r->size = ring_bytes(re);
	r->who = who;
	if (version < TPACKET_V1 || version > TPACKET_V3 || !re->block_size || !re->block_nr ||
	    re->block_size % getpagesize() ||
	    (!r->blocks && (!re->frame_size || re->frame_size > re->block_size ||
			    re->frame_nr != (re->block_size / re->frame_size) * re->block_nr))) {
		pr_err("%s: a ring of a shape the kernel would not make (version %d, %u blocks of %u, %u frames of %u)\n",
		       who, version, re->block_nr, re->block_size, re->frame_nr, re->frame_size);
		return -1;
	}
	r->nslots = r->blocks ? re->block_nr : re->frame_nr;
	return 0;
}

static size_t slot_off(const struct ring *r, uint32_t i)
{
	uint32_t fpb;

	if (r->blocks)
		return (size_t)i * r->block_size;
	fpb = r->block_size / r->frame_size;
	return (size_t)(i / fpb) * r->block_size + (size_t)(i % fpb) * r->frame_size;
}

static size_t slot_size(const struct ring *r)
{
	return r->blocks ? r->block_size : r->frame_size;
}

/* Where the status word of a slot is; a V1 header's is an unsigned long. */
static void *status_ptr(const struct ring *r, uint32_t i)
{
	uint8_t *s = r->base + slot_off(r, i);

	if (r->blocks)
		return &((struct tpacket_block_desc *)s)->hdr.bh1.block_status;
	if (r->version == TPACKET_V3)
		return &((struct tpacket3_hdr *)s)->tp_status;
	return s;
}

/* The kernel reads and writes these at any time: every access is one load or store. */
static uint32_t get_status(const struct ring *r, uint32_t i)
{
	void *p = status_ptr(r, i);

	if (!r->blocks && r->version == TPACKET_V1)
		return (uint32_t)__atomic_load_n((unsigned long *)p, __ATOMIC_ACQUIRE);
	return __atomic_load_n((uint32_t *)p, __ATOMIC_ACQUIRE);
}

static void set_status(const struct ring *r, uint32_t i, uint32_t v)
{
	void *p = status_ptr(r, i);

	if (!r->blocks && r->version == TPACKET_V1)
		__atomic_store_n((unsigned long *)p, v, __ATOMIC_RELEASE);
	else
		__atomic_store_n((uint32_t *)p, v, __ATOMIC_RELEASE);
}

/*
 * Probing marks slots with a status the kernel never writes, and takes the
 * mark off only if it is still there: a slot the kernel filled meanwhile
 * keeps what the kernel wrote (and the search starts again).
 */
#define PROBE_MARK	(TP_STATUS_USER | (1U << 27))

static int unmark(const struct ring *r, uint32_t i)
{
	void *p = status_ptr(r, i);

	if (!r->blocks && r->version == TPACKET_V1) {
		unsigned long want = PROBE_MARK;

		return __atomic_compare_exchange_n((unsigned long *)p, &want, 0UL, 0, __ATOMIC_ACQ_REL,
						   __ATOMIC_ACQUIRE) ? 0 : -1;
	}
	uint32_t want = PROBE_MARK;

	return __atomic_compare_exchange_n((uint32_t *)p, &want, 0U, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ? 0 : -1;
}

/* When the kernel filled a receive slot (a V3 block: opened it), in ns; 0 if never. */
static uint64_t slot_time(const struct ring *r, uint32_t i)
{
	uint8_t *s = r->base + slot_off(r, i);

	if (r->blocks) {
		struct tpacket_hdr_v1 *h = &((struct tpacket_block_desc *)s)->hdr.bh1;

		return h->ts_first_pkt.ts_sec * 1000000000ULL + h->ts_first_pkt.ts_nsec;
	}
	if (r->version == TPACKET_V1)
		return ((struct tpacket_hdr *)s)->tp_sec * 1000000000ULL + ((struct tpacket_hdr *)s)->tp_usec * 1000ULL;
	return ((struct tpacket2_hdr *)s)->tp_sec * 1000000000ULL + ((struct tpacket2_hdr *)s)->tp_nsec;
}

static uint32_t block_pkts(const struct ring *r, uint32_t i)
{
	return __atomic_load_n(&((struct tpacket_block_desc *)(r->base + slot_off(r, i)))->hdr.bh1.num_pkts,
			       __ATOMIC_ACQUIRE);
}

static int poll_bits(int sk, short events)
{
	struct pollfd p = { .fd = sk, .events = events };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

/* Is the slot before the kernel's receive cursor not the kernel's? 1, 0, or -1. */
static int rx_prev_taken(int sk)
{
	int rev = poll_bits(sk, POLLIN);

	return rev < 0 ? -1 : !!(rev & POLLIN);
}

/*
 * A receive ring's cursor by binary search: slots marked as the task's
 * (the kernel fills none of those) among those that are the kernel's
 * (@st[i] == 0), and poll says whether the slot before the cursor is one.
 * -1 if the search can't tell (the slot before the cursor is the task's
 * already), -2 on errors, -3 if the kernel filled a slot meanwhile.
 */
static int rx_probe(struct ring *r, int sk, const uint32_t *st)
{
	uint32_t *cand = malloc(r->nslots * sizeof(*cand)), nc = 0, lo, hi;
	int ret = -1, t;

	if (!cand)
		return -2;
	for (uint32_t i = 0; i < r->nslots; i++)
		if (!st[i])
			cand[nc++] = i;
	t = rx_prev_taken(sk);
	if (t < 0 || t > 0 || !nc) {
		ret = t < 0 ? -2 : -1;
		goto out;
	}
	lo = 0;
	hi = nc;	/* the slot before the cursor is in cand[lo, hi) */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		int moved = 0;

		for (uint32_t k = lo; k < mid; k++)
			set_status(r, cand[k], PROBE_MARK);
		t = rx_prev_taken(sk);
		for (uint32_t k = lo; k < mid; k++)
			moved |= unmark(r, cand[k]);
		if (t < 0 || moved) {
			ret = t < 0 ? -2 : -3;
			goto out;
		}
		if (t)
			hi = mid;
		else
			lo = mid;
	}
	/* check it: marked it says readable, unmarked not */
	set_status(r, cand[lo], PROBE_MARK);
	t = rx_prev_taken(sk);
	if (unmark(r, cand[lo]))
		ret = -3;
	else if (t == 1 && rx_prev_taken(sk) == 0)
		ret = (cand[lo] + 1) % r->nslots;
out:
	free(cand);
	return ret;
}

/* The slot whose time is the smallest (oldest) among those with status != 0. */
static uint32_t oldest_taken(const struct ring *r, const uint32_t *st)
{
	uint64_t best = UINT64_MAX;
	uint32_t at = 0;

	for (uint32_t i = 0; i < r->nslots; i++) {
		uint64_t t = slot_time(r, i);

		if (st[i] && t < best) {
			best = t;
			at = i;
		}
	}
	return at;
}

/* The newest slot ever filled, by time; -1 if none was. */
static int newest_filled(const struct ring *r)
{
	uint64_t best = 0;
	int at = -1;

	for (uint32_t i = 0; i < r->nslots; i++) {
		uint64_t t = slot_time(r, i);

		if (t > best) {
			best = t;
			at = i;
		}
	}
	return at;
}

static int rx_cursor_once(struct ring *r, int sk, uint32_t *st, uint32_t *head)
{
	uint32_t taken = 0, runs = 0, end = 0;
	int h;

	for (uint32_t i = 0; i < r->nslots; i++) {
		st[i] = get_status(r, i);
		taken += !!st[i];
	}
	for (uint32_t i = 0; i < r->nslots; i++)
		if (st[i] && !st[(i + 1) % r->nslots]) {
			runs++;
			end = (i + 1) % r->nslots;
		}
	if (taken == r->nslots) {
		/* full: the kernel waits at the oldest slot */
		*head = oldest_taken(r, st);
		return 0;
	}
	if (runs == 1) {
		/* the task takes slots in order: the kernel's cursor is after the run it was handed */
		*head = end;
		return 0;
	}
	h = rx_probe(r, sk, st);
	if (h == -3) {
		*head = 0;
		return 1;	/* something came: again */
	}
	if (h == -2) {
		pr_perror("can't find where the kernel is in the receive ring of %s", r->who);
		return -1;
	}
	if (h == -1) {
		/* handed out of order: the kernel is after the newest slot it filled */
		h = newest_filled(r);
		h = h < 0 ? 0 : (h + 1) % (int)r->nslots;
		pr_debug("%s: the receive cursor by time: %d\n", r->who, h);
	} else {
		pr_debug("%s: the receive cursor by probing: %d\n", r->who, h);
	}
	*head = h;
	return 0;
}

/* The receive cursor, with the statuses as they were (unchanged over the search). */
static int rx_cursor(struct ring *r, int sk, uint32_t *head)
{
	uint32_t *st = calloc(r->nslots, sizeof(*st));
	int ret = -1;

	if (!st)
		return -1;
	/*
	 * Packets arriving meanwhile move things: read until two rounds agree
	 * (with the task stopped the ring fills up, and then nothing moves).
	 */
	for (uint64_t until = now_us() + 2000000; now_us() < until;) {
		int same = 1, r1 = rx_cursor_once(r, sk, st, head);

		if (r1 < 0)
			goto out;
		for (uint32_t i = 0; i < r->nslots && same; i++)
			same = get_status(r, i) == st[i];
		if (!r1 && same) {
			ret = 0;
			goto out;
		}
		usleep(1000);
	}
	pr_err("can't dump %s: packets kept arriving while criu looked for the kernel's place in its receive ring\n",
	       r->who);
out:
	free(st);
	return ret;
}

/*
 * A transmit ring's cursor. send() walks from it while slots ask to be
 * sent: with malformed requests in a set of slots (and every other slot
 * not asking), it fails iff the cursor is in the set, sending nothing.
 */
struct tx_probe {
	int sk, type;
	struct sockaddr_ll to;
	uint32_t bad_len;	/* a length the kernel refuses before sending */
};

static size_t tx_hdr_len(int version)
{
	return version == TPACKET_V1 ? sizeof(struct tpacket_hdr) :
	       version == TPACKET_V2 ? sizeof(struct tpacket2_hdr) : sizeof(struct tpacket3_hdr);
}

static uint32_t tx_get_len(const struct ring *r, uint32_t i)
{
	uint8_t *s = r->base + slot_off(r, i);

	if (r->version == TPACKET_V1)
		return ((struct tpacket_hdr *)s)->tp_len;
	if (r->version == TPACKET_V2)
		return ((struct tpacket2_hdr *)s)->tp_len;
	return ((struct tpacket3_hdr *)s)->tp_len;
}

static void tx_set_len(const struct ring *r, uint32_t i, uint32_t len)
{
	uint8_t *s = r->base + slot_off(r, i);

	if (r->version == TPACKET_V1)
		((struct tpacket_hdr *)s)->tp_len = len;
	else if (r->version == TPACKET_V2)
		((struct tpacket2_hdr *)s)->tp_len = len;
	else {
		((struct tpacket3_hdr *)s)->tp_len = len;
		((struct tpacket3_hdr *)s)->tp_next_offset = 0;
	}
}

static int tx_in_set(const struct ring *r, struct tx_probe *p, const uint32_t *set, uint32_t n)
{
	int ret;

	for (uint32_t k = 0; k < n; k++) {
		tx_set_len(r, set[k], p->bad_len);
		set_status(r, set[k], TP_STATUS_SEND_REQUEST);
	}
	ret = sendto(p->sk, NULL, 0, MSG_DONTWAIT, (struct sockaddr *)&p->to, sizeof(p->to));
	for (uint32_t k = 0; k < n; k++)
		set_status(r, set[k], TP_STATUS_WRONG_FORMAT);
	if (ret < 0 && (errno == EINVAL || errno == EMSGSIZE))
		return 1;
	if (ret >= 0)
		return 0;
	return -1;
}

static int tx_cursor(struct ring *r, int sk, int type, int loss, uint32_t *head)
{
	size_t hl = TPACKET_ALIGN(tx_hdr_len(r->version));
	uint8_t *saved = malloc((size_t)r->nslots * hl);
	uint32_t *all = malloc(r->nslots * sizeof(*all)), lo = 0, hi = r->nslots, used = 0;
	struct tx_probe p = { .sk = sk, .type = type };
	int ret = -1, t;

	if (!saved || !all)
		goto out;
	/* frames being sent are handed back by the kernel any time: wait for them */
	for (int tries = 0;; tries++) {
		int busy = 0;

		for (uint32_t i = 0; i < r->nslots; i++)
			busy |= get_status(r, i) & TP_STATUS_SENDING;
		if (!busy)
			break;
		if (tries == 1000) {
			pr_err("can't dump %s: frames of its transmit ring stay in the kernel's hands\n", r->who);
			goto out;
		}
		usleep(1000);
	}
	for (uint32_t i = 0; i < r->nslots; i++) {
		memcpy(saved + i * hl, r->base + slot_off(r, i), hl);
		all[i] = i;
		used |= get_status(r, i) || tx_get_len(r, i);
	}
	if (!used) {
		/* never written: nothing was ever sent */
		*head = 0;
		ret = 0;
		goto out;
	}
	if (loss) {
		/* malformed frames are skipped (the cursor moves): no probing */
		pr_err("can't dump %s: it has PACKET_LOSS on, so criu can't find where the kernel is in its transmit "
		       "ring without sending\n", r->who);
		goto out;
	}
	/* a raw frame shorter than a link header is refused silently; a dgram one only when too long */
	p.bad_len = type == SOCK_RAW ? 1 : 0x7fffffff;
	p.to.sll_family = AF_PACKET;
	p.to.sll_ifindex = if_nametoindex("lo");
	p.to.sll_protocol = htons(INJECT_PROTO);
	p.to.sll_halen = ETH_ALEN;
	for (uint32_t i = 0; i < r->nslots; i++)
		set_status(r, i, TP_STATUS_WRONG_FORMAT);
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		t = tx_in_set(r, &p, all + lo, mid - lo);
		if (t < 0)
			break;
		if (t)
			hi = mid;
		else
			lo = mid;
	}
	t = hi - lo == 1 ? tx_in_set(r, &p, all + lo, 1) : -1;
	for (uint32_t i = 0; i < r->nslots; i++)
		memcpy(r->base + slot_off(r, i), saved + i * hl, hl);
	if (t != 1) {
		pr_perror("can't find where the kernel is in the transmit ring of %s", r->who);
		goto out;
	}
	*head = lo;
	ret = 0;
out:
	free(saved);
	free(all);
	return ret;
}

static int add_chunk(PacketRingEntry *re, size_t off, const void *data, size_t len)
{
	PacketRingChunk *c = calloc(1, sizeof(*c)), **n;

	if (!c)
		return -1;
	packet_ring_chunk__init(c);
	c->off = off;
	c->data.data = malloc(len);
	if (!c->data.data) {
		free(c);
		return -1;
	}
	memcpy(c->data.data, data, len);
	c->data.len = len;
	n = realloc(re->chunks, (re->n_chunks + 1) * sizeof(*n));
	if (!n) {
		free(c->data.data);
		free(c);
		return -1;
	}
	re->chunks = n;
	re->chunks[re->n_chunks++] = c;
	return 0;
}

/*
 * A slot worth saving: handed to the task (receive), or asked to be sent
 * or written by the task (transmit: a frame it is filling has a length
 * before it asks for it to be sent).
 */
static int slot_kept(const struct ring *r, uint32_t i)
{
	return get_status(r, i) || (!r->rx && tx_get_len(r, i));
}

/* The slots worth saving, runs of them as one chunk each. */
static int save_slots(const struct ring *r, PacketRingEntry *re, size_t *total)
{
	uint32_t i = 0;

	while (i < r->nslots) {
		size_t start, end;

		if (!slot_kept(r, i)) {
			i++;
			continue;
		}
		start = slot_off(r, i);
		end = start + slot_size(r);
		for (i++; i < r->nslots && slot_kept(r, i) && slot_off(r, i) == end; i++)
			end += slot_size(r);
		*total += end - start;
		if (*total > MAX_RING_SAVED) {
			pr_err("can't dump %s: more than %u MiB queued in its rings\n", r->who, MAX_RING_SAVED >> 20);
			return -1;
		}
		if (add_chunk(re, start, r->base + start, end - start)) {
			pr_err("out of memory\n");
			return -1;
		}
	}
	return 0;
}

static PacketRingEntry *new_ring(const struct packet_diag_ring *d)
{
	PacketRingEntry *re = calloc(1, sizeof(*re));

	if (!re)
		return NULL;
	packet_ring_entry__init(re);
	re->block_size = d->pdr_block_size;
	re->block_nr = d->pdr_block_nr;
	re->frame_size = d->pdr_frame_size;
	re->frame_nr = d->pdr_frame_nr;
	re->has_retire_tmo = re->has_sizeof_priv = re->has_features = 1;
	re->retire_tmo = d->pdr_retire_tmo;
	re->sizeof_priv = d->pdr_sizeof_priv;
	re->features = d->pdr_features;
	return re;
}

/*
 * A V3 block the kernel is filling has frames the task can't see yet: give
 * its timer a chance to hand them over. Frames still in it are lost; 1 if
 * there are some. A block the kernel froze at and the task then took back
 * keeps an old header: it is not the newest block opened, and has none.
 */
static int settle_block(struct ring *r, int sk, uint32_t *head, uint32_t tmo)
{
	uint64_t until = now_us() + (uint64_t)(tmo > 1000 ? 1000 : tmo) * 1000 + 20000;

	if (get_status(r, *head) || !block_pkts(r, *head) || newest_filled(r) != (int)*head)
		return 0;
	while (!get_status(r, *head) && block_pkts(r, *head) && now_us() < until)
		usleep(1000);
	if (get_status(r, *head))
		return rx_cursor(r, sk, head);
	return block_pkts(r, *head) ? 1 : 0;
}

static int dump_rings(int sk, PacketSkEntry *e, const struct packet_diag_sk *d, const char *who)
{
	size_t rx = d->has_rx ? (size_t)d->rx.pdr_block_size * d->rx.pdr_block_nr : 0;
	size_t tx = d->has_tx ? (size_t)d->tx.pdr_block_size * d->tx.pdr_block_nr : 0, total = 0;
	struct ring r;
	uint8_t *map;
	int ret = -1;

	if (!rx && !tx)
		return 0;
	if (d->has_rx && !(e->rx_ring = new_ring(&d->rx)))
		return -1;
	if (d->has_tx && !(e->tx_ring = new_ring(&d->tx)))
		return -1;
	map = mmap(NULL, rx + tx, PROT_READ | PROT_WRITE, MAP_SHARED, sk, 0);
	if (map == MAP_FAILED) {
		pr_perror("can't map the rings of %s", who);
		return -1;
	}
	if (e->rx_ring) {
		if (ring_init(&r, e->rx_ring, e->version, 1, map, who) || rx_cursor(&r, sk, &e->rx_ring->head))
			goto out;
		if (r.blocks) {
			int lost = settle_block(&r, sk, &e->rx_ring->head, e->rx_ring->retire_tmo);

			if (lost < 0)
				goto out;
			if (lost)
				pr_warn("%s: the %u frames in the block the kernel is still filling are not saved (no "
					"interface gives the kernel a half-filled block back); they are lost as on a "
					"lossy network\n", who, block_pkts(&r, e->rx_ring->head));
		}
		if (save_slots(&r, e->rx_ring, &total))
			goto out;
	}
	if (e->tx_ring) {
		if (ring_init(&r, e->tx_ring, e->version, 0, map + rx, who) ||
		    tx_cursor(&r, sk, e->type, e->has_loss && e->loss, &e->tx_ring->head) ||
		    save_slots(&r, e->tx_ring, &total))
			goto out;
	}
	pr_debug("%s: rings of %zu and %zu bytes, cursors %u and %u, %zu bytes saved\n", who, rx, tx,
		 e->rx_ring ? e->rx_ring->head : 0, e->tx_ring ? e->tx_ring->head : 0, total);
	ret = 0;
out:
	munmap(map, rx + tx);
	return ret;
}

/* ---- dump ---- */

static void free_ring(PacketRingEntry *re)
{
	if (!re)
		return;
	for (size_t i = 0; i < re->n_chunks; i++) {
		free(re->chunks[i]->data.data);
		free(re->chunks[i]);
	}
	free(re->chunks);
	free(re);
}

static void free_psk(FileEntry *fe)
{
	PacketSkEntry *e = fe->psk;

	if (!e)
		return;
	sk_opts_free(e->opts);
	free(e->opts);
	free(e->ifname);
	for (size_t i = 0; i < e->n_mclist; i++) {
		free(e->mclist[i]->addr.data);
		free(e->mclist[i]);
	}
	free(e->mclist);
	free_ring(e->rx_ring);
	free_ring(e->tx_ring);
	free(e);
	fe->psk = NULL;
}

static int dump_mclist(PacketSkEntry *e, const struct packet_diag_sk *d)
{
	if (!d->nr_mc)
		return 0;
	e->mclist = calloc(d->nr_mc, sizeof(*e->mclist));
	if (!e->mclist)
		return -1;
	for (uint32_t i = 0; i < d->nr_mc; i++) {
		const struct packet_diag_mclist *m = &d->mc[i];
		PacketMclistEntry *me = calloc(1, sizeof(*me));
		size_t alen = m->pdmc_alen > sizeof(m->pdmc_addr) ? sizeof(m->pdmc_addr) : m->pdmc_alen;

		if (!me)
			return -1;
		packet_mclist_entry__init(me);
		e->mclist[e->n_mclist++] = me;
		me->ifindex = m->pdmc_index;
		me->type = m->pdmc_type;
		me->count = m->pdmc_count;
		me->addr.data = malloc(alen ? alen : 1);
		if (!me->addr.data)
			return -1;
		memcpy(me->addr.data, m->pdmc_addr, alen);
		me->addr.len = alen;
	}
	return 0;
}

static int dump_fanout(int sk, PacketSkEntry *e, const char *who)
{
	socklen_t len = sizeof(int);
	int val = 0, type;

	if (getsockopt(sk, SOL_PACKET, PACKET_FANOUT, &val, &len)) {
		pr_perror("can't read the fanout of %s", who);
		return -1;
	}
	type = (val >> 16) & 0xff;
	if (type == PACKET_FANOUT_CBPF || type == PACKET_FANOUT_EBPF) {
		pr_err("can't dump %s: it is in fanout group %d, which spreads packets with a BPF program "
		       "(PACKET_FANOUT_DATA) that can't be read back\n", who, val & 0xffff);
		return -1;
	}
	e->has_fanout = 1;
	e->fanout = val;
	return 0;
}

static int check_state(int sk, const PacketSkEntry *e, const char *who)
{
	struct pollfd p = { .fd = sk, .events = 0 };
	int inq = 0;

	if (poll(&p, 1, 0) < 0) {
		pr_perror("can't poll %s", who);
		return -1;
	}
	if (p.revents & POLLERR) {
		pr_err("can't dump %s: it has an error pending (e.g. its interface went down) that can only be read "
		       "by taking it away; the kernel gives no way to put it back\n", who);
		return -1;
	}
	if (!ioctl(sk, SIOCINQ, &inq) && inq > 0)
		pr_warn("%s: the frames queued on it%s are not saved (the kernel can't read past the first one "
			"without taking it away); they are lost as on a lossy network\n", who,
			e->rx_ring ? " outside its ring" : "");
	return 0;
}

static int dump_psk(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi,
		    FileEntry *fe)
{
	(void)ft;
	struct netns_state *ns = netns_of(pid);
	struct packet_diag_table *t;
	struct packet_diag_sk *d;
	char who[160], ifname[IF_NAMESIZE] = "";
	int sk, ret = -1;
	unsigned long ino;
	PacketSkEntry *e;

	(void)info;
	if (!ns || sk_fd_ino(pid, fd, &ino))
		return -1;
	t = netns_packet_diag(ns);
	if (!t)
		return -1;
	d = packet_diag_find(t, ino);
	if (!d || !d->has_info) {
		pr_err("can't dump fd %d of %d: packet socket %lu is not in sock_diag\n", fd, pid, ino);
		return -1;
	}
	if (d->type != SOCK_RAW && d->type != SOCK_DGRAM && d->type != SOCK_PACKET) {
		pr_err("can't dump fd %d of %d: packet socket %lu of type %u\n", fd, pid, ino, d->type);
		return -1;
	}
	if ((int32_t)d->info.pdi_index > 0)
		if_indextoname(d->info.pdi_index, ifname);
	snprintf(who, sizeof(who), "fd %d of %d (packet %s socket %lu, protocol 0x%04x, %s)", fd, pid,
		 type_name(d->type), ino, d->num, ifname[0] ? ifname : "any interface");
	if ((int32_t)d->info.pdi_index < 0 || (d->info.pdi_index && !ifname[0])) {
		pr_err("can't dump %s: it is bound to an interface that is gone (index %d)\n", who,
		       (int32_t)d->info.pdi_index);
		return -1;
	}
	sk = task_fd(pid, fd);
	if (sk < 0)
		return -1;
	e = calloc(1, sizeof(*e));
	if (!e)
		goto close;
	packet_sk_entry__init(e);
	fe->psk = e;
	e->ino = ino;
	e->type = d->type;
	e->protocol = d->num;
	e->flags = fi->flags & ~(O_ACCMODE | O_CLOEXEC);
	if (d->info.pdi_index) {
		e->has_ifindex = 1;
		e->ifindex = d->info.pdi_index;
		e->ifname = strdup(ifname);
		if (!e->ifname)
			goto out;
	}
	e->opts = calloc(1, sizeof(*e->opts));
	if (!e->opts || sk_opts_dump(sk, e->opts, who))
		goto out;
	/* SOCK_PACKET sockets have no SOL_PACKET options: each reads as absent */
	if (sk_opts_read(sk, pkt_tab, ARRAY_SIZE(pkt_tab), e, who))
		goto out;
	if (d->type != SOCK_PACKET) {
		e->has_copy_thresh = 1;
		e->copy_thresh = d->info.pdi_copy_thresh;
	}
	if (d->has_fanout && dump_fanout(sk, e, who))
		goto out;
	if (dump_mclist(e, d)) {
		pr_err("out of memory\n");
		goto out;
	}
	if (dump_rings(sk, e, d, who) || check_state(sk, e, who))
		goto out;
	pr_debug("%s: version %u, %zu memberships, fanout %x\n", who, e->version, e->n_mclist, e->fanout);
	ret = 0;
out:
	if (ret)
		free_psk(fe);
close:
	close(sk);
	return ret;
}

int packet_ring_vma(struct file_table *ft, pid_t pid, uint64_t ino, VmaEntry *v)
{
	for (size_t i = 0; i < ft->nr; i++) {
		PacketSkEntry *e = ft->d[i].fe.type == FILE_TYPE__FT_PACKETSK ? ft->d[i].fe.psk : NULL;
		size_t size;

		if (!e || e->ino != ino)
			continue;
		size = (e->rx_ring ? ring_bytes(e->rx_ring) : 0) + (e->tx_ring ? ring_bytes(e->tx_ring) : 0);
		if (v->pgoff || v->end - v->start != size) {
			pr_err("can't dump task %d: memory area %lx-%lx is part of the rings of packet socket %lu (%zu "
			       "bytes); the kernel maps them only whole\n", pid, (unsigned long)v->start,
			       (unsigned long)v->end, (unsigned long)ino, size);
			return -1;
		}
		v->has_file_id = 1;
		v->file_id = ft->d[i].id;
		return 0;
	}
	pr_err("can't dump task %d: memory area %lx-%lx maps socket %lu, which is no packet socket an fd of the "
	       "tree holds (a ring whose socket was closed, or a socket of another kind)\n", pid,
	       (unsigned long)v->start, (unsigned long)v->end, (unsigned long)ino);
	return -1;
}

/* ---- restore ---- */

static int set_ring(int sk, int opt, const PacketRingEntry *re, int version, const char *who)
{
	struct tpacket_req3 req = {
		.tp_block_size = re->block_size,
		.tp_block_nr = re->block_nr,
		.tp_frame_size = re->frame_size,
		.tp_frame_nr = re->frame_nr,
		.tp_retire_blk_tov = re->retire_tmo,
		.tp_sizeof_priv = re->sizeof_priv,
		.tp_feature_req_word = re->features,
	};

	if (setsockopt(sk, SOL_PACKET, opt, &req,
		       version == TPACKET_V3 ? sizeof(struct tpacket_req3) : sizeof(struct tpacket_req))) {
		pr_perror("can't make the %s ring of %s", opt == PACKET_RX_RING ? "receive" : "transmit", who);
		return -1;
	}
	return 0;
}

static int wait_status(const struct ring *r, uint32_t i, int want_set, uint64_t us)
{
	uint64_t until = now_us() + us;

	while ((get_status(r, i) != 0) != want_set) {
		if (now_us() > until)
			return -1;
		sched_yield();
	}
	return 0;
}

/* Move the transmit cursor to @head: frames sent to nobody over loopback. */
static int tx_advance(struct ring *r, int sk, const PacketSkEntry *e, uint32_t head)
{
	size_t off = TPACKET_ALIGN(tx_hdr_len(r->version));
	size_t vnet = e->has_vnet_hdr_sz ? e->vnet_hdr_sz : (e->has_vnet_hdr && e->vnet_hdr ? 10 : 0);
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(INJECT_PROTO), .sll_halen = ETH_ALEN };
	size_t len = vnet + (e->type == SOCK_RAW ? ETH_HLEN : 0) + 46;

	if (!head)
		return 0;
	to.sll_ifindex = if_nametoindex("lo");
	if (!to.sll_ifindex || off + len > r->frame_size) {
		pr_err("%s: can't move the transmit ring's cursor (no loopback, or frames too small)\n", r->who);
		return -1;
	}
	for (uint32_t i = 0; i < head; i++) {
		uint8_t *s = r->base + slot_off(r, i);
		uint8_t *data = s + off;

		memset(s, 0, r->frame_size);
		if (e->type == SOCK_RAW) {
			struct ethhdr *eh = (struct ethhdr *)(data + vnet);

			eh->h_proto = htons(INJECT_PROTO);
		}
		if (r->version != TPACKET_V1 && e->has_tx_has_off && e->tx_has_off) {
			/* the data's offsets are read from the header then */
			if (r->version == TPACKET_V2)
				((struct tpacket2_hdr *)s)->tp_mac = ((struct tpacket2_hdr *)s)->tp_net = off;
			else
				((struct tpacket3_hdr *)s)->tp_mac = ((struct tpacket3_hdr *)s)->tp_net = off;
		} else if (e->has_tx_has_off && e->tx_has_off) {
			((struct tpacket_hdr *)s)->tp_mac = ((struct tpacket_hdr *)s)->tp_net = off;
		}
		tx_set_len(r, i, len);
		set_status(r, i, TP_STATUS_SEND_REQUEST);
	}
	/* blocking: returns once every frame is back */
	if (sendto(sk, NULL, 0, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		pr_perror("%s: can't send frames to move the transmit ring's cursor", r->who);
		return -1;
	}
	for (uint32_t i = 0; i < head; i++)
		if (wait_status(r, i, 0, 1000000)) {
			pr_err("%s: frame %u of the transmit ring was not sent (status %x)\n", r->who, i,
			       get_status(r, i));
			return -1;
		}
	return 0;
}

/* Receive frames of criu's own only: bound to loopback for INJECT_PROTO, filtered on a cookie. */
static int rx_inject_begin(int sk, int type, const char *who)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(INJECT_PROTO) };
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, type == SOCK_RAW ? ETH_HLEN : 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, INJECT_COOKIE, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(code), .filter = code };

	ll.sll_ifindex = if_nametoindex("lo");
	if (!ll.sll_ifindex || setsockopt(sk, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ||
	    bind(sk, (struct sockaddr *)&ll, sizeof(ll))) {
		pr_perror("%s: can't listen on loopback to move the receive ring's cursor", who);
		return -1;
	}
	return 0;
}

static int inject_frames(int tx, int n, uint32_t size, const char *who)
{
	static uint8_t buf[65000];
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(INJECT_PROTO), .sll_halen = ETH_ALEN };
	uint32_t cookie = htonl(INJECT_COOKIE);

	to.sll_ifindex = if_nametoindex("lo");
	memcpy(buf, &cookie, sizeof(cookie));
	if (size > sizeof(buf))
		size = sizeof(buf);
	for (int i = 0; i < n; i++)
		if (sendto(tx, buf, size, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
			pr_perror("%s: can't send a frame over loopback", who);
			return -1;
		}
	return 0;
}

/* V1, V2: frame by frame, in batches the loopback queue takes whole. */
static int rx_advance_frames(struct ring *r, int tx, uint32_t head)
{
	for (uint32_t done = 0; done < head;) {
		uint32_t n = head - done > 32 ? 32 : head - done;

		if (inject_frames(tx, n, 60, r->who))
			return -1;
		if (wait_status(r, done + n - 1, 1, 2000000)) {
			pr_err("%s: frames sent to move the receive ring's cursor did not arrive\n", r->who);
			return -1;
		}
		done += n;
	}
	return 0;
}

/*
 * V3: block by block. The next block is marked as the task's first, so
 * that closing this one freezes the kernel at it rather than opening it
 * with a frame of ours in it; then it is handed back (the kernel opens it
 * with the next frame) and the one after is marked. The kernel ends
 * frozen at block @head, marked.
 */
static int rx_advance_blocks(struct ring *r, int tx, uint32_t steps)
{
	for (uint32_t k = 0; k < steps; k++) {
		uint32_t cur = k % r->nslots, next = (k + 1) % r->nslots;
		int tries = 0;

		if (k)
			set_status(r, cur, TP_STATUS_KERNEL);
		if (r->nslots > 1)
			set_status(r, next, TP_STATUS_USER);
		for (;;) {
			uint32_t before = block_pkts(r, cur);
			uint64_t until;

			if (inject_frames(tx, 1, r->block_size, r->who))
				return -1;
			/* the frame lands in the block, or closes it (and is dropped: the next is marked) */
			until = now_us() + 1000000;
			while (!get_status(r, cur) && block_pkts(r, cur) == before && now_us() < until)
				sched_yield();
			if (get_status(r, cur))
				break;
			if (block_pkts(r, cur) == before || ++tries > 100000) {
				pr_err("%s: block %u of the receive ring does not fill\n", r->who, cur);
				return -1;
			}
		}
	}
	return 0;
}

static int write_slots(struct ring *r, const PacketRingEntry *re, size_t touched)
{
	memset(r->base, 0, touched);
	for (size_t i = 0; i < re->n_chunks; i++) {
		const PacketRingChunk *c = re->chunks[i];

		if (c->off > r->size || c->data.len > r->size - c->off) {
			pr_err("%s: a saved piece of the ring lies outside it\n", r->who);
			return -1;
		}
		memcpy(r->base + c->off, c->data.data, c->data.len);
	}
	return 0;
}

static int restore_rx(struct ring *r, int sk, const PacketSkEntry *e, int *bound)
{
	const PacketRingEntry *re = e->rx_ring;
	uint32_t head = re->head % r->nslots, steps = head;
	int tx = -1, ret = -1;
	size_t touched;

	if (r->blocks) {
		/* frozen at a block handed to the task when it was dumped: the kernel must go round to it */
		for (size_t i = 0; i < re->n_chunks; i++)
			if (re->chunks[i]->off == slot_off(r, head))
				steps = head ? head : r->nslots;
	}
	if (steps) {
		if (!e->protocol) {
			pr_err("%s: a receive ring with a cursor at %u on a socket that never received\n", r->who, head);
			return -1;
		}
		tx = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (tx < 0 || rx_inject_begin(sk, e->type, r->who)) {
			pr_perror("%s: can't send frames over loopback", r->who);
			goto out;
		}
		*bound = 1;
		if (r->blocks ? rx_advance_blocks(r, tx, steps) : rx_advance_frames(r, tx, head))
			goto out;
		int zero = 0;

		if (setsockopt(sk, SOL_SOCKET, SO_DETACH_FILTER, &zero, sizeof(zero))) {
			pr_perror("%s: can't take criu's filter off", r->who);
			goto out;
		}
	}
	/* what was sent to move the cursor goes (for V3 up to the block it stopped at, marked) */
	if (r->blocks)
		touched = (size_t)(!steps ? 0 : steps >= r->nslots ? r->nslots : steps + 1) * r->block_size;
	else
		touched = head ? slot_off(r, head - 1) + r->frame_size : 0;
	if (r->blocks && !steps) {
		/* the open block 0 is the kernel's: what was in it at dump can't be put back */
		for (size_t i = 0; i < re->n_chunks; i++)
			if (re->chunks[i]->off < r->block_size) {
				pr_err("%s: a saved block where the kernel is\n", r->who);
				goto out;
			}
	}
	if (write_slots(r, re, touched))
		goto out;
	ret = 0;
out:
	if (tx >= 0)
		close(tx);
	return ret;
}

/*
 * Make the rings, move the kernel's cursors to where they were and put back
 * what was queued. *bound: the socket was bound (to loopback) for it.
 */
static int restore_rings(int sk, const PacketSkEntry *e, int *bound, const char *who)
{
	size_t rx = e->rx_ring ? ring_bytes(e->rx_ring) : 0, tx = e->tx_ring ? ring_bytes(e->tx_ring) : 0;
	int version = e->has_version ? e->version : TPACKET_V1, ret = -1;
	struct tpacket_stats st;
	struct tpacket_stats_v3 st3;
	socklen_t len;
	struct ring r;
	uint8_t *map;

	if (!rx && !tx)
		return 0;
	if ((e->rx_ring && set_ring(sk, PACKET_RX_RING, e->rx_ring, version, who)) ||
	    (e->tx_ring && set_ring(sk, PACKET_TX_RING, e->tx_ring, version, who)))
		return -1;
	map = mmap(NULL, rx + tx, PROT_READ | PROT_WRITE, MAP_SHARED, sk, 0);
	if (map == MAP_FAILED) {
		pr_perror("can't map the rings of %s", who);
		return -1;
	}
	if (e->tx_ring) {
		if (ring_init(&r, e->tx_ring, version, 0, map + rx, who) ||
		    tx_advance(&r, sk, e, e->tx_ring->head % r.nslots) ||
		    write_slots(&r, e->tx_ring, slot_off(&r, e->tx_ring->head % r.nslots)))
			goto out;
	}
	if (e->rx_ring && (ring_init(&r, e->rx_ring, version, 1, map, who) || restore_rx(&r, sk, e, bound)))
		goto out;
	/* what criu sent is not the task's traffic: reading the counters clears them */
	len = version == TPACKET_V3 ? sizeof(st3) : sizeof(st);
	getsockopt(sk, SOL_PACKET, PACKET_STATISTICS, version == TPACKET_V3 ? (void *)&st3 : (void *)&st, &len);
	ret = 0;
out:
	munmap(map, rx + tx);
	return ret;
}

static int bind_psk(int sk, const PacketSkEntry *e, int bound, const char *who)
{
	char name[IF_NAMESIZE] = "";

	if (e->ifindex && !if_indextoname(e->ifindex, name)) {
		pr_err("can't restore %s: interface %u (%s at dump) is not there\n", who, e->ifindex,
		       e->ifname ? e->ifname : "?");
		return -1;
	}
	if (e->ifindex && e->ifname && strcmp(name, e->ifname))
		pr_warn("%s: interface %u is %s now (it was %s at dump); bound to it by index\n", who, e->ifindex,
			name, e->ifname);
	if (e->type == SOCK_PACKET) {
		struct sockaddr sa = { .sa_family = AF_PACKET };

		if (!e->ifindex)
			return 0;
		/* the kernel reads 14 bytes, NUL or not */
		memcpy(sa.sa_data, name, strlen(name) < sizeof(sa.sa_data) ? strlen(name) : sizeof(sa.sa_data));
		if (bind(sk, &sa, sizeof(sa))) {
			pr_perror("can't bind %s to %s", who, name);
			return -1;
		}
		return 0;
	}
	if (!e->ifindex && !e->protocol && !bound)
		return 0;
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_ifindex = e->ifindex,
				  .sll_protocol = htons(e->protocol) };

	if (bind(sk, (struct sockaddr *)&ll, sizeof(ll))) {
		pr_perror("can't bind %s to %s, protocol 0x%04x", who, e->ifindex ? name : "every interface",
			  e->protocol);
		return -1;
	}
	return 0;
}

static int join_mclist(int sk, const PacketSkEntry *e, const char *who)
{
	for (size_t i = 0; i < e->n_mclist; i++) {
		const PacketMclistEntry *m = e->mclist[i];
		struct {
			int ifindex;
			unsigned short type, alen;
			unsigned char addr[32];
		} mr = { .ifindex = m->ifindex, .type = m->type, .alen = m->addr.len };

		if (m->addr.len > sizeof(mr.addr)) {
			pr_err("%s: a membership with a %zu-byte address\n", who, m->addr.len);
			return -1;
		}
		if (m->addr.len)	/* no address: no data (NULL) */
			memcpy(mr.addr, m->addr.data, m->addr.len);
		for (uint32_t n = 0; n < m->count; n++)
			if (setsockopt(sk, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr))) {
				pr_perror("can't add membership #%zu (type %u on interface %u) of %s", i, m->type,
					  m->ifindex, who);
				return -1;
			}
	}
	return 0;
}

static int open_psk(struct fd_rst *c, FileEntry *fe)
{
	(void)c;
	const PacketSkEntry *e = fe->psk;
	int sk, bound = 0;
	char who[96];

	if (!e || (e->type != SOCK_RAW && e->type != SOCK_DGRAM && e->type != SOCK_PACKET) || e->protocol > 0xffff ||
	    (e->type == SOCK_PACKET && (e->rx_ring || e->tx_ring))) {
		pr_err("file %u: a bad packet socket record\n", fe->id);
		return -1;
	}
	snprintf(who, sizeof(who), "packet %s socket %lu", type_name(e->type), (unsigned long)e->ino);
	/* receiving starts with the bind, once the rings are ready (SOCK_PACKET binds by name only) */
	sk = socket(AF_PACKET, e->type | SOCK_CLOEXEC, e->type == SOCK_PACKET ? htons(e->protocol) : 0);
	if (sk < 0) {
		pr_perror("can't make %s", who);
		return -1;
	}
	if (sk_opts_restore(sk, e->opts, SK_OPT_EARLY, 0, who) ||
	    sk_opts_write(sk, pkt_tab, ARRAY_SIZE(pkt_tab), e, SK_OPT_EARLY, who))
		goto err;
	if (e->has_copy_thresh && e->copy_thresh &&
	    setsockopt(sk, SOL_PACKET, PACKET_COPY_THRESH, &e->copy_thresh, sizeof(e->copy_thresh))) {
		pr_perror("can't set PACKET_COPY_THRESH of %s", who);
		goto err;
	}
	if (restore_rings(sk, e, &bound, who) || bind_psk(sk, e, bound, who) || join_mclist(sk, e, who))
		goto err;
	if (e->has_fanout && setsockopt(sk, SOL_PACKET, PACKET_FANOUT, &e->fanout, sizeof(e->fanout))) {
		pr_perror("can't join %s to fanout group %u", who, e->fanout & 0xffff);
		goto err;
	}
	if (sk_opts_finish(sk, e->opts, e->flags, who))
		goto err;
	return sk;
err:
	close(sk);
	return -1;
}

const struct fd_kind packetsk_kind = {
	.link = "socket:[",
	.prefix = 1,
	.sk_families = 1ULL << AF_PACKET,
	.type = FILE_TYPE__FT_PACKETSK,
	.dump = dump_psk,
	.open = open_psk,
	.free = free_psk,
};
