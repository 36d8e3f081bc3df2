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
 * mounting, loading modules or BPF, changing namespaces. It is a deny list,
 * not an allow list, because the data path runs through io_uring, whose
 * operations seccomp does not see: an allow list would promise more than it
 * holds, while the deny list removes what matters at no cost.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
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
};

#if defined(__x86_64__)
#define PRIV_AUDIT_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PRIV_AUDIT_ARCH	AUDIT_ARCH_AARCH64
#endif

/**
 * priv_seccomp() - install the deny-list filter
 *
 * Return: 0, -errno; -ENOSYS on an architecture it is not written for
 */
static int priv_seccomp(void)
{
#ifdef PRIV_AUDIT_ARCH
	struct sock_filter prog[4 + 2 * ARRAY_SIZE(priv_denied) + 1];
	struct sock_fprog fprog = { .filter = prog };
	unsigned i, n = 0;

	/* Another ABI's numbers mean other calls: refuse them all */
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		offsetof(struct seccomp_data, arch));
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		PRIV_AUDIT_ARCH, 1, 0);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		SECCOMP_RET_ERRNO | EPERM);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		offsetof(struct seccomp_data, nr));
	for (i = 0; i < ARRAY_SIZE(priv_denied); i++) {
		prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
			BPF_K, priv_denied[i], 0, 1);
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
			SECCOMP_RET_ERRNO | EPERM);
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
