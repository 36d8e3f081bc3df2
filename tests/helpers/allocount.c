// SPDX-License-Identifier: BSD-2-Clause
/*
 * allocount.c - count a process's heap allocations, for the system tests
 *
 * Preloaded into the daemon (LD_PRELOAD) by tests/system/test_alloc.py,
 * which checks that nothing on the frame path allocates. Every malloc,
 * calloc, realloc and aligned allocation bumps one counter, kept in a file
 * that the test maps too (ALLOCOUNT_FILE names it): the test reads it while
 * the daemon runs, without asking the daemon anything. The file is mapped
 * before the first allocation is counted, so before the daemon drops its
 * privileges or installs its system call filter; counting makes no system
 * call.
 *
 * The allocations themselves are glibc's: its __libc_* entry points, so
 * that nothing here needs dlsym(), which allocates.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

static uint64_t allocount_none;
static uint64_t *allocount = &allocount_none;

__attribute__((constructor))
static void allocount_init(void)
{
	const char *path = getenv("ALLOCOUNT_FILE");
	void *map;
	int fd;

	if (!path)
		return;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	map = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	close(fd);
	if (map != MAP_FAILED)
		allocount = map;
}

static void allocount_bump(void)
{
	__atomic_fetch_add(allocount, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t size)
{
	allocount_bump();
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	allocount_bump();
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	allocount_bump();
	return __libc_realloc(p, size);
}

void *memalign(size_t align, size_t size)
{
	allocount_bump();
	return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
	allocount_bump();
	return __libc_memalign(align, size);
}

void *valloc(size_t size)
{
	allocount_bump();
	return __libc_valloc(size);
}

void *pvalloc(size_t size)
{
	allocount_bump();
	return __libc_pvalloc(size);
}

int posix_memalign(void **p, size_t align, size_t size)
{
	void *m;

	if (!align || (align & (align - 1)) || align % sizeof(void *))
		return EINVAL;
	allocount_bump();
	m = __libc_memalign(align, size);
	if (!m && size)
		return ENOMEM;
	*p = m;
	return 0;
}
