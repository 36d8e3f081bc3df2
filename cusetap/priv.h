/* SPDX-License-Identifier: BSD-2-Clause */
/* priv.h - keep only the privileges the running daemon needs */
#ifndef CUSETAP_PRIV_H
#define CUSETAP_PRIV_H

int priv_check(const char *runas);
int priv_drop(const char *runas);
int priv_seccomp(void);

#endif /* CUSETAP_PRIV_H */
