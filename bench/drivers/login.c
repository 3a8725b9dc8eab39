/*
 * login: the benchmark's libpam driver. It authenticates the way a login
 * service does, through the real libpam, once per line of standard input:
 *
 *   login CONFDIR SERVICE [CONV_MS]
 *
 * For each line, "USER TOKEN" (the user to start as and the one-time
 * password or TOTP code to answer the prompt with), it runs
 * pam_start_confdir -> pam_authenticate -> pam_end and prints one line:
 *
 *   login RC TOTAL_NS AUTH_NS HWM_BEFORE_KB HWM_AFTER_KB RSS_KB CHILD_MAXRSS_KB PROMPT_NS TOKEN_NS
 *
 * TOTAL_NS spans pam_start to pam_end, AUTH_NS pam_authenticate alone.
 * HWM_BEFORE_KB is VmHWM just before pam_authenticate, HWM_AFTER_KB just
 * after; CHILD_MAXRSS_KB is the peak RSS of the largest reaped child (the
 * helper process, when the module ran one). The conversation answers a
 * prompt CONV_MS milliseconds after it is asked (0 by default), as a user
 * would after reading and typing. PROMPT_NS is the time from the call of
 * pam_authenticate to the prompt, what the user waits for before they can
 * answer; TOKEN_NS the time from the conversation's return with the token
 * to pam_authenticate's return, what they wait for after; each -1 when no
 * prompt came. Run with one line it is a fresh
 * process per login; fed line by line it is a long-lived one. The user
 * comes with each line because Vault takes a TOTP code once per key, and
 * the key is the user's: a long-lived process that logs in many times in a
 * TOTP period needs a key, so a user, per login.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/resource.h>

#include "harness.h"

static char line[512];

/* The conversation's delay, and when it was last asked and returned. */
struct answer {
	const char *token;
	long delay_ms;
	long long asked_ns, answered_ns;
};

static int answer_late(int n, const struct pam_message **msg,
		       struct pam_response **resp, void *data)
{
	struct answer *a = data;
	int prompt = 0;

	if (n <= 0)
		return PAM_CONV_ERR;
	for (int i = 0; i < n; i++)
		prompt |= msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
			  msg[i]->msg_style == PAM_PROMPT_ECHO_ON;
	if (prompt) {
		a->asked_ns = harness_now_ns();
		if (a->delay_ms > 0) {
			struct timespec pause = {a->delay_ms / 1000, (a->delay_ms % 1000) * 1000000};
			nanosleep(&pause, NULL);
		}
	}
	int rc = harness_answer(n, msg, resp, (void *)a->token);
	if (prompt)
		a->answered_ns = harness_now_ns();
	return rc;
}

int main(int argc, char **argv)
{
	long delay_ms = 0;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: %s CONFDIR SERVICE [CONV_MS] < 'USER TOKEN' lines\n", argv[0]);
		return 64;
	}
	if (argc == 4)
		delay_ms = strtol(argv[3], NULL, 10);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		char *token = strchr(line, ' ');
		if (token == NULL) {
			fprintf(stderr, "login: a line is not USER TOKEN\n");
			return 64;
		}
		*token++ = '\0';
		struct answer a = {token, delay_ms, 0, 0};
		struct pam_conv conv = {answer_late, &a};
		pam_handle_t *pamh = NULL;
		long long t0 = harness_now_ns();
		int rc = pam_start_confdir(argv[2], line, &conv, argv[1], &pamh);
		if (rc != PAM_SUCCESS) {
			fprintf(stderr, "pam_start_confdir: %d\n", rc);
			return 1;
		}
		long long ta = harness_now_ns();
		long before = harness_status_kb("VmHWM");
		long long t1 = harness_now_ns();
		rc = pam_authenticate(pamh, PAM_SILENT);
		long long t2 = harness_now_ns();
		long after = harness_status_kb("VmHWM");
		long long tb = harness_now_ns();
		pam_end(pamh, rc);
		long long t3 = harness_now_ns();
		struct rusage ru;
		long child = getrusage(RUSAGE_CHILDREN, &ru) == 0 ? ru.ru_maxrss : -1;
		explicit_bzero(line, sizeof(line));
		/* The /proc reads are left out of the times. */
		printf("login %d %lld %lld %ld %ld %ld %ld %lld %lld\n", rc,
		       (ta - t0) + (t2 - t1) + (t3 - tb), t2 - t1, before, after,
		       harness_status_kb("VmRSS"), child,
		       a.asked_ns > 0 ? a.asked_ns - t1 : -1,
		       a.answered_ns > 0 ? t2 - a.answered_ns : -1);
		fflush(stdout);
	}
	return 0;
}
