/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * backend.h - the one interface between the device model and a network side
 *
 * Each unit of the BSD device is backed by a port: a network interface the
 * host sees. The device model (cusetap/tapdev.c) drives ports only through
 * struct ns_ops, so the kernel TAP backend (ktap.c) and a later userspace
 * one are interchangeable. Frames travel:
 *
 *   client write()  -> tapdev_write() -> ops->send()      -> host stack
 *   host stack      -> backend receives into tapdev_rx_buf(), then calls
 *                      tapdev_rx_done(offset, length)      -> client read()
 *
 * and link state learnt by the backend arrives through tapdev_link_update().
 */
#ifndef CUSETAP_NETSTACK_BACKEND_H
#define CUSETAP_NETSTACK_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ns_port;
struct tapdev_unit;

/**
 * struct ns_link - state of a port's interface as the host sees it
 * @flags:	Linux IFF_* flags (IFF_UP, IFF_PROMISC, ...)
 * @mtu:	MTU in bytes
 * @mac:	hardware address
 * @name:	interface name
 * @tun:	a tun or tap interface (the host's own, when not ours)
 */
struct ns_link {
	unsigned flags;
	unsigned mtu;
	uint8_t mac[6];
	char name[16];
	bool tun;
};

/**
 * struct ns_ops - what a network backend provides
 * @name:	backend name, for logs
 * @create:	create the interface @ifname for @u, or with @adopt attach
 *		to the host's own persistent interface of that name (which
 *		is then never removed); -EEXIST if the name is taken by
 *		something else. Fills @link with its initial state.
 * @destroy:	remove the interface and stop all I/O; the backend calls
 *		tapdev_port_released(u) once nothing it started still uses the
 *		unit's buffers (possibly before returning)
 * @rx_kick:	the unit has a free receive buffer again (tapdev_rx_buf)
 * @rx_follow:	the unit's client is served from the calling thread from
 *		now on: receive there (optional)
 * @send:	inject one frame, prefixed by the client's virtio-net header
 *		(see @set_vnet_hdr); -errno if it was dropped. The write may
 *		still be in flight on return: the frame's buffer must stay
 *		untouched until the caller's next event loop submission, which
 *		the backend makes wait for the write (the character-device
 *		side's next read into that buffer)
 * @set_vnet_hdr: frames carry a virtio-net header of @len bytes (0, 10 or
 *		12) in both directions from now on, and the interface offers
 *		checksum and segmentation offloads while @len is not 0
 * @set_carrier: report link (carrier) up or down to the host
 * @set_flags:	change the interface flags in @change (Linux IFF_*) to
 *		their values in @flags
 * @set_mtu:	set the MTU; the kernel's -errno if it refuses the value
 * @set_mac:	set the hardware address
 * @set_owner:	let user @uid and group @gid (-1: none) use the interface
 *		as their own (for a kernel TAP: TUNSETOWNER, TUNSETGROUP)
 * @purge_addrs: remove every address configured on the interface
 * @sync:	apply link changes the host made but the backend has not yet
 *		reported, so a decision about to be taken sees them
 */
struct ns_ops {
	const char *name;
	int (*create)(void *be, const char *ifname, bool adopt,
		      struct tapdev_unit *u, struct ns_port **port,
		      struct ns_link *link);
	void (*destroy)(struct ns_port *p);
	void (*rx_kick)(struct ns_port *p);
	void (*rx_follow)(struct ns_port *p);
	int (*send)(struct ns_port *p, const void *frame, size_t len);
	int (*set_vnet_hdr)(struct ns_port *p, unsigned len);
	int (*set_carrier)(struct ns_port *p, bool on);
	int (*set_flags)(struct ns_port *p, unsigned change, unsigned flags);
	int (*set_mtu)(struct ns_port *p, unsigned mtu);
	int (*set_mac)(struct ns_port *p, const uint8_t mac[6]);
	int (*set_owner)(struct ns_port *p, uid_t uid, gid_t gid);
	int (*purge_addrs)(struct ns_port *p);
	void (*sync)(void *be);
};

#endif /* CUSETAP_NETSTACK_BACKEND_H */
