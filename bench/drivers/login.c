/*
 * login: the benchmark's libpam driver. It authenticates the way a login
 * service does, through the real libpam, once per line of standard input:
 *
 *   login CONFDIR SERVICE USER
 *
 * For each line (the one-time password to answer the prompt with) it runs
 * pam_start_confdir -> pam_authenticate -> pam_end and prints one line:
 *
 *   login RC TOTAL_NS AUTH_NS HWM_BEFORE_KB HWM_AFTER_KB RSS_KB CHILD_MAXRSS_KB
 *
 * TOTAL_NS spans pam_start to pam_end, AUTH_NS pam_authenticate alone.
 * HWM_BEFORE_KB is VmHWM just before pam_authenticate, HWM_AFTER_KB just
 * after; CHILD_MAXRSS_KB is the peak RSS of the largest reaped child (the
 * helper process, when the module ran one). Run with one line it is a fresh
 * process per login; fed line by line it is a long-lived one.
 */
#define _GNU_SOURCE
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static char token[512];

static int answer(int n, const struct pam_message **msg,
		  struct pam_response **resp, void *data)
{
	(void)data;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
		    msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
			r[i].resp = strdup(token);
			if (r[i].resp == NULL) {
				free(r);
				return PAM_BUF_ERR;
			}
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Reads a "Name:   N kB" field of /proc/self/status, or -1. */
static long status_kb(const char *name)
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

int main(int argc, char **argv)
{
	struct pam_conv conv = {answer, NULL};

	if (argc != 4) {
		fprintf(stderr, "usage: %s CONFDIR SERVICE USER < otps\n", argv[0]);
		return 64;
	}
	while (fgets(token, sizeof(token), stdin) != NULL) {
		token[strcspn(token, "\r\n")] = '\0';
		pam_handle_t *pamh = NULL;
		long long t0 = now_ns();
		int rc = pam_start_confdir(argv[2], argv[3], &conv, argv[1], &pamh);
		if (rc != PAM_SUCCESS) {
			fprintf(stderr, "pam_start_confdir: %d\n", rc);
			return 1;
		}
		long long ta = now_ns();
		long before = status_kb("VmHWM");
		long long t1 = now_ns();
		rc = pam_authenticate(pamh, PAM_SILENT);
		long long t2 = now_ns();
		long after = status_kb("VmHWM");
		long long tb = now_ns();
		pam_end(pamh, rc);
		long long t3 = now_ns();
		struct rusage ru;
		long child = getrusage(RUSAGE_CHILDREN, &ru) == 0 ? ru.ru_maxrss : -1;
		explicit_bzero(token, sizeof(token));
		/* The /proc reads are left out of the times. */
		printf("login %d %lld %lld %ld %ld %ld %ld\n", rc,
		       (ta - t0) + (t2 - t1) + (t3 - tb), t2 - t1, before, after,
		       status_kb("VmRSS"), child);
		fflush(stdout);
	}
	return 0;
}
