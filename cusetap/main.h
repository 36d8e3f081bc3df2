/* SPDX-License-Identifier: BSD-2-Clause */
/* main.h - the daemon's entry points called from the event loop */
#ifndef CUSETAP_MAIN_H
#define CUSETAP_MAIN_H

void main_on_signal(void *obj, int res);

#endif /* CUSETAP_MAIN_H */
