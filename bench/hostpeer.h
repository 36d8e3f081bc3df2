/* SPDX-License-Identifier: BSD-2-Clause */
/* hostpeer.h - the host's side of a benchmarked interface */
#ifndef CUSETAP_BENCH_HOSTPEER_H
#define CUSETAP_BENCH_HOSTPEER_H

#include <stddef.h>
#include <stdint.h>

/* Ethertype of every benchmark frame: IEEE local experimental */
#define HP_ETHERTYPE	0x88b5
/* Round trips hp_echo() makes before it records any */
#define HP_ECHO_WARMUP	100

/**
 * struct hp_flow - flow control between a flooding sender and its reader
 * @received:	frames the reader took so far (written by the reader only);
 *		also the futex the sender sleeps on
 * @sent:	frames the sender sent (written by the sender only)
 * @wake_at:	the reader wakes the sender once @received reaches this
 * @sleeping:	the sender is (about to be) asleep on @received
 *
 * Shared memory between two processes. The sender keeps at most a window
 * of frames unread, so neither the kernel TAP's ring nor the daemon's
 * queue ever overflows, and it sleeps instead of spinning: the emulated
 * machine has two CPUs, and a spinning sender would steal one from the
 * path under test.
 */
struct hp_flow {
	uint32_t received;
	uint32_t sent;
	uint32_t wake_at;
	uint32_t sleeping;
};

int hp_iface_prepare(const char *ifname);
int hp_iface_stat(const char *ifname, const char *name, uint64_t *val);
int hp_socket(const char *ifname, uint16_t proto);
void hp_frame_fill(uint8_t *frame, size_t len, uint32_t seq);
void hp_flow_took(struct hp_flow *fl);
int hp_flood(const char *ifname, size_t size, unsigned window,
	     struct hp_flow *fl);
int hp_echo(const char *ifname, size_t size, unsigned iters, double *rtt_us);

#endif /* CUSETAP_BENCH_HOSTPEER_H */
