// SPDX-License-Identifier: BSD-2-Clause
/*
 * priv.c - keep only the privileges the running daemon needs
 *
 * Once every device is ready the daemon still creates things on demand
 * (a clone is a new kernel TAP and a new CUSE node), so it keeps exactly:
 *
 *   CAP_NET_ADMIN	create kernel TAPs, change links and addresses
 *   CAP_DAC_OVERRIDE	open /dev/cuse (root's, mode 0600) for each new node
 *   CAP_CHOWN		give new nodes their configured owner
 *   CAP_FOWNER		give new nodes (root's) their configured mode
 *   CAP_KILL		SIGIO to an opener running as another user
 *
 * and drops every other capability, from the bounding set too. --runas
 * switches to an unprivileged user while keeping those five. Then
 * no_new_privs is set and a seccomp filter refuses (EPERM) the system calls
 * a compromised daemon could use to escape: executing programs, tracing,
 * mounting (with mount(2) or the file descriptor mount API), loading
 * modules or BPF, entering or creating namespaces (setns, unshare, clone
 * with a CLONE_NEW* flag), and any call of another ABI (i386, x32). clone3
 * gets ENOSYS instead: its flags sit in memory, out of the filter's reach,
 * and on ENOSYS the C library falls back to clone, whose flags it can see;
 * the loop threads, started after this, are made that way. It is a deny
 * list, not an allow list, because the data path runs through io_uring,
 * whose operations seccomp does not see: an allow list would promise more
 * than it holds, while the deny list removes what matters at no cost.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "log.h"
#include "priv.h"
#include "util.h"

#define PRIV_CAPS	(1ULL << CAP_NET_ADMIN | 1ULL << CAP_DAC_OVERRIDE | \
			 1ULL << CAP_CHOWN | 1ULL << CAP_FOWNER |	  \
			 1ULL << CAP_KILL)

/**
 * priv_check() - is --runas usable, before anything is started
 * @runas:	user name, or NULL
 *
 * Return: 0, -1 after logging that the user does not exist
 */
int priv_check(const char *runas)
{
	if (runas && !getpwnam(runas)) {
		log_err("--runas: no such user '%s'", runas);
		return -1;
	}
	return 0;
}

/**
 * priv_capset() - set permitted and effective capabilities to @caps
 * @caps:	capability mask
 *
 * Return: 0, -errno
 */
static int priv_capset(uint64_t caps)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	data[0].permitted = data[0].effective = (uint32_t)caps;
	data[1].permitted = data[1].effective = (uint32_t)(caps >> 32);
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/**
 * priv_switch_user() - become @runas, keeping capabilities across setuid
 * @runas:	user name
 *
 * Return: 0, -errno
 */
static int priv_switch_user(const char *runas)
{
	struct passwd *pw = getpwnam(runas);

	if (!pw)
		return -ENOENT;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) ||
	    setgroups(0, NULL) ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid))
		return -errno;
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return 0;
}

/* System calls the running daemon never makes, and an attacker would */
static const int priv_denied[] = {
	SYS_execve, SYS_execveat, SYS_ptrace, SYS_process_vm_readv,
	SYS_process_vm_writev, SYS_mount, SYS_umount2, SYS_pivot_root,
	SYS_chroot, SYS_init_module, SYS_finit_module, SYS_delete_module,
	SYS_kexec_load, SYS_bpf, SYS_perf_event_open, SYS_setns, SYS_unshare,
	SYS_reboot, SYS_swapon, SYS_swapoff, SYS_acct, SYS_keyctl,
	SYS_add_key, SYS_request_key, SYS_userfaultfd, SYS_open_by_handle_at,
	SYS_personality,
	/* The file descriptor mount API: mounts without mount(2) */
#ifdef __NR_fsopen
	__NR_fsopen, __NR_fsconfig, __NR_fsmount, __NR_fspick,
#endif
#ifdef __NR_move_mount
	__NR_move_mount, __NR_open_tree,
#endif
#ifdef __NR_mount_setattr
	__NR_mount_setattr,
#endif
};

/*
 * clone flags that make a namespace. CLONE_NEWTIME lies in clone's exit
 * signal byte, where the kernel reads it as signal 128 and refuses it:
 * testing it here costs nothing and stays right if that ever changes.
 */
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME	0x00000080
#endif
/* Numbers from 424 on are the same on every architecture */
#ifndef __NR_clone3
#define __NR_clone3	435
#endif
#define PRIV_CLONE_NEW	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |	\
			 CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |	\
			 CLONE_NEWNET | CLONE_NEWTIME)

#if defined(__x86_64__)
#define PRIV_AUDIT_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PRIV_AUDIT_ARCH	AUDIT_ARCH_AARCH64
#endif

/*
 * x32 calls share x86_64's audit arch; only this bit in their number tells
 * them apart (and it is what the kernel dispatches on)
 */
#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT	0x40000000
#endif

/* The filter compares 32-bit words: this one holds an argument's low half */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PRIV_ARG_LO(i)	offsetof(struct seccomp_data, args[i])
#else
#define PRIV_ARG_LO(i)	(offsetof(struct seccomp_data, args[i]) + 4)
#endif

/* The one answer to a refused call */
#define PRIV_DENY	(SECCOMP_RET_ERRNO | EPERM)

/**
 * priv_seccomp() - install the deny-list filter on the calling thread
 *
 * priv_drop() calls it last; the unit test calls it alone too, with every
 * capability kept, so that a refusal it sees can only be the filter's.
 * Threads created afterwards inherit the filter; earlier ones do not.
 *
 * Return: 0, -errno; -ENOSYS on an architecture it is not written for
 */
int priv_seccomp(void)
{
#ifdef PRIV_AUDIT_ARCH
	/* arch and nr, x32, clone3, clone, the list, the default */
	struct sock_filter prog[4 + 2 + 2 + 5 + 2 * ARRAY_SIZE(priv_denied) +
				1];
	struct sock_fprog fprog = { .filter = prog };
	unsigned i, n = 0;

	/* Another ABI's numbers mean other calls: refuse them all */
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		offsetof(struct seccomp_data, arch));
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		PRIV_AUDIT_ARCH, 1, 0);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, PRIV_DENY);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		offsetof(struct seccomp_data, nr));
#ifdef __x86_64__
	/* ... x32's too, though they pass the arch test */
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
		__X32_SYSCALL_BIT, 0, 1);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, PRIV_DENY);
#endif
	/* The library retries with clone, whose flags are checked below */
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		__NR_clone3, 0, 1);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		SECCOMP_RET_ERRNO | ENOSYS);
	/* Threads and fork, yes; a new namespace, no. Flags are argument 0 */
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		__NR_clone, 0, 4);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		PRIV_ARG_LO(0));
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K,
		PRIV_CLONE_NEW, 0, 1);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, PRIV_DENY);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		SECCOMP_RET_ALLOW);
	for (i = 0; i < ARRAY_SIZE(priv_denied); i++) {
		prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
			BPF_K, priv_denied[i], 0, 1);
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
			PRIV_DENY);
	}
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		SECCOMP_RET_ALLOW);
	fprog.len = n;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0))
		return -errno;
	return 0;
#else
	return -ENOSYS;
#endif
}

/**
 * priv_drop() - keep only what the running daemon needs
 * @runas:	user to become, or NULL to stay who we are
 *
 * Return: 0, -1 after logging what could not be dropped
 */
int priv_drop(const char *runas)
{
	unsigned long cap;
	int ret;

	for (cap = 0; cap <= CAP_LAST_CAP; cap++) {
		if (!(PRIV_CAPS & (1ULL << cap)) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			log_debug("cannot drop capability %lu: %s", cap,
				  strerror(errno));
	}
	if (runas) {
		ret = priv_switch_user(runas);
		if (ret) {
			log_err("--runas %s: %s", runas, strerror(-ret));
			return -1;
		}
	}
	ret = priv_capset(PRIV_CAPS);
	if (ret) {
		log_err("cannot limit capabilities: %s", strerror(-ret));
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		log_err("no_new_privs: %s", strerror(errno));
		return -1;
	}
	ret = priv_seccomp();
	if (ret)
		log_warn("no seccomp filter: %s", strerror(-ret));
	log_info("privileges dropped%s%s", runas ? ", running as " : "",
		 runas ? runas : "");
	return 0;
}
