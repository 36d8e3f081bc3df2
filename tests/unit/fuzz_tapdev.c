// SPDX-License-Identifier: BSD-2-Clause
/*
 * fuzz_tapdev.c - feed the device model whatever a client could send
 *
 * The input is a little program: each byte picks an operation (open, close,
 * write a frame, read, poll, an ioctl with arbitrary argument bytes, a
 * signal, the host sending a frame or deleting the interface, a link
 * change) and the following bytes give its arguments. Whatever the
 * sequence, the model must not crash, leak or answer a request twice (the
 * sanitizer build checks the first two, the fakes' bookkeeping the last).
 *
 * Built two ways: with libFuzzer (clang -fsanitize=fuzzer, meson option
 * -Dfuzz=true) for open-ended fuzzing, and with fuzz_replay.c as a unit
 * test that runs a fixed set of pseudo-random programs on every build.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>

#include <net/if_tap.h>

#include "check.h"
#include "fake.h"
#include "ioctl.h"

int check_failures;

#define FUZZ_FILES	4

/* Known commands, so the fuzzer reaches the handlers, plus an unknown one */
static const unsigned fuzz_cmds[] = {
	TAPGIFNAME, NETBSD_TAPGIFNAME, BSD_FIONREAD, BSD_FIONBIO, BSD_FIOASYNC,
	BSD_FIOSETOWN, BSD_FIOGETOWN, BSD_TIOCSPGRP, BSD_TIOCGPGRP, TAPSDEBUG,
	TAPGDEBUG, TAPSIFINFO, TAPGIFINFO, TAPSVNETHDR, TAPGVNETHDR,
	BSD_SIOCGIFADDR, BSD_SIOCSIFADDR, VMIO_SIOCSIFFLAGS, TAPSTRANSIENT,
	TAPGTRANSIENT, 0x4004ffff,
};

struct fuzz {
	const uint8_t *p, *end;
	struct tapdev_file *files[FUZZ_FILES];
	struct tapdev_waiter *waiters[FUZZ_FILES];
	uintptr_t reqs[FUZZ_FILES];
	uintptr_t next_req;
};

static unsigned fuzz_byte(struct fuzz *z)
{
	return z->p < z->end ? *z->p++ : 0;
}

static unsigned fuzz_u16(struct fuzz *z)
{
	return fuzz_byte(z) | fuzz_byte(z) << 8;
}

/* fill @buf from the input, cycling over what is left */
static void fuzz_fill(struct fuzz *z, uint8_t *buf, size_t len)
{
	size_t i, left = z->end - z->p;

	for (i = 0; i < len; i++)
		buf[i] = left ? z->p[i % left] : (uint8_t)i;
}

static void fuzz_ioctl(struct fuzz *z, struct tapdev_file *f)
{
	static uint8_t in[TAPIOC_MAX_ARG], out[TAPIOC_MAX_ARG];
	unsigned cmd = fuzz_cmds[fuzz_byte(z) % (sizeof(fuzz_cmds) /
						  sizeof(fuzz_cmds[0]))];
	const struct tapioc *ioc = tapioc_find(cmd);
	struct tapioc_args a = { .in = in, .out = out, .pid = getpid() };

	if (!ioc)
		return;
	fuzz_fill(z, in, sizeof(in));
	a.arg = fuzz_u16(z);
	memset(out, 0, sizeof(out));
	ioc->fn(f, &a);
}

static void fuzz_step(struct fuzz *z)
{
	static uint8_t frame[70000];
	unsigned op = fuzz_byte(z), k = (op >> 4) % FUZZ_FILES;
	struct tapdev_file *f = z->files[k];
	struct tapdev_unit *u = f ? f->unit : NULL;
	size_t len, cap;
	uint8_t *buf;

	switch (op % 10) {
	case 0:
		if (!f)
			tapdev_open(&ctx, NULL, getpid(), &z->files[k]);
		break;
	case 1:
		if (f) {
			tapdev_close(f);
			z->files[k] = NULL;
			z->waiters[k] = NULL;
		}
		break;
	case 2:
		/* mostly frame-sized, sometimes up to past TAPMRU */
		len = op & 0x80 ? fuzz_u16(z) + fuzz_byte(z) * 16
				: fuzz_u16(z) % 2048;
		fuzz_fill(z, frame, len);
		if (f)
			tapdev_write(f, frame, len);
		break;
	case 3:
		if (f) {
			z->reqs[k] = ++z->next_req;
			z->waiters[k] = tapdev_read(f, (void *)z->reqs[k],
						    fuzz_u16(z), op & 0x80);
		}
		break;
	case 4:
		if (u && (buf = tapdev_rx_buf(u, &cap))) {
			len = (op & 0x80 ? fuzz_u16(z) : fuzz_u16(z) % 2048) % cap;
			fuzz_fill(z, buf, len);
			tapdev_rx_done(u, fuzz_byte(z) % 13, len);
		}
		break;
	case 5:
		if (f)
			fuzz_ioctl(z, f);
		break;
	case 6:
		/* a signal, maybe for a read answered since (stale) */
		if (z->waiters[k])
			tapdev_interrupt(z->waiters[k], (void *)z->reqs[k]);
		tapdev_reap(&ctx);
		z->waiters[k] = NULL;
		break;
	case 7:
		if (f)
			tapdev_poll(f, op & 0x80 ? (void *)++z->next_req : NULL);
		break;
	case 8:
		if (u && !(op & 0x80))
			tapdev_unit_lost(u);
		break;
	case 9:
		if (u) {
			struct ns_link link = u->link;

			link.flags = fuzz_u16(z);
			link.mtu = fuzz_u16(z);
			tapdev_link_update(u, &link);
		}
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz z = { .p = data, .end = data + size };
	unsigned i, flavour = size ? data[0] : 0;

	if (size)
		z.p++;
	setup_cfg(flavour & 1 ? TAPDEV_ABI_NETBSD : TAPDEV_ABI_FREEBSD,
		  flavour & 2);
	while (z.p < z.end)
		fuzz_step(&z);
	for (i = 0; i < FUZZ_FILES; i++) {
		if (z.files[i])
			tapdev_close(z.files[i]);
	}
	teardown();
	return 0;
}
