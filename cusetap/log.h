/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log.h - leveled logging: "cusetap: LEVEL: message" on stderr in the
 * foreground; in the background syslog (the journal, under systemd), and
 * stderr too until the daemon is ready
 */
#ifndef CUSETAP_LOG_H
#define CUSETAP_LOG_H

enum log_level {
	LOG_LVL_ERROR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

extern enum log_level log_threshold;

void log_to_syslog(void);
void log_stderr_off(void);

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)	log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)							\
	do {								\
		if (log_threshold >= LOG_LVL_DEBUG)			\
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);		\
	} while (0)

#endif /* CUSETAP_LOG_H */
