/*
 * harness.h: what pam_vault's C test and benchmark drivers share. Each
 * includes it (cc -I test/include); the functions are static inline so that
 * a driver using only some of them still compiles under -Wall -Werror.
 */
#ifndef PAM_VAULT_HARNESS_H
#define PAM_VAULT_HARNESS_H

#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * A PAM conversation function that answers every prompt with the string
 * its appdata_ptr points to, and ignores every message: use it as
 * struct pam_conv conv = {harness_answer, token}.
 */
static inline int harness_answer(int n, const struct pam_message **msg,
				 struct pam_response **resp, void *data)
{
	const char *token = data;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF &&
		    msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		r[i].resp = strdup(token);
		if (r[i].resp == NULL) {
			for (int j = 0; j < i; j++)
				free(r[j].resp);
			free(r);
			return PAM_BUF_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* The monotonic clock, in nanoseconds. */
static inline long long harness_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A "Name:   N kB" field of /proc/self/status (VmRSS, VmHWM), or -1. */
static inline long harness_status_kb(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	size_t len = strlen(name);

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			kb = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

#endif
