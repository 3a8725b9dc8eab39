/*
 * cycles runs many whole PAM conversations in one process, the way a
 * long-lived service such as sshd's monitor or a login daemon does, and
 * reports the process's open file descriptors and resident memory as it
 * goes, so that a leak per attempt shows as growth.
 *
 *   cycles CONFDIR SERVICE USER CYCLES EVERY OTPFILE REPORT [FAIL_EVERY ABANDON_SERVICE]
 *
 * Cycle i (from 1) runs pam_start_confdir(SERVICE, CONFDIR), pam_set_item
 * (PAM_RHOST, PAM_TTY), pam_authenticate and pam_end. Every EVERY-th cycle
 * answers the prompt with the next OTP from OTPFILE (one per line; Vault
 * issued them, so they are valid); the others answer with a well-formed
 * UUID that Vault never issued, which still goes to Vault and back. With
 * FAIL_EVERY, every FAIL_EVERY-th cycle that is not a valid one fails the
 * conversation instead, while the module's early work is under way or
 * after it has connected to Vault, at once or after 2 ms: in turn the
 * conversation returns PAM_CONV_ERR (pam_authenticate gives PAM_CONV_ERR),
 * or PAM_CONV_AGAIN on ABANDON_SERVICE, whose module asks with pam_prompt
 * (TOTP mode: pam_get_authtok would make it a failed conversation), so
 * that pam_authenticate gives PAM_INCOMPLETE and the handle is ended
 * without a verdict. libpam's own line for a failed conversation, which
 * carries the module's prefix, is not counted as the module's.
 *
 * Every REPORT cycles it prints
 *     cycle <i> fds <open descriptors> rss_kb <VmRSS> threads <n> children <n>
 * (its threads, and its child processes, such as helpers not reaped) and
 * at the end
 *     done cycles <n> success <n> auth_err <n> unexpected <n> logs <n> debug_logs <n> other_logs <n> conv_err <n> incomplete <n>
 * where unexpected counts verdicts other than PAM_SUCCESS for a valid OTP,
 * PAM_AUTH_ERR for an unknown one and the failed conversation's code for
 * the others, logs and debug_logs count the module's syslog lines above and
 * at LOG_DEBUG, and other_logs the lines of anything else (libpam itself).
 * Syslog calls are caught here (see below), so ten thousand attempts do not
 * flood the host's log.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static long logs, debug_logs, other_logs;

/*
 * libpam's pam_syslog ends in syslog(), or glibc's fortified __syslog_chk.
 * Definitions in the executable take precedence over libc's for every
 * library in the process, so these catch the module's log lines: they are
 * counted, and printed to stderr when CYCLES_VERBOSE is set.
 */
static void catch_log(int priority, const char *format, va_list ap)
{
	char line[2048];

	vsnprintf(line, sizeof(line), format, ap);
	const char *end = line + strlen(line) - strlen("): conversation failed");
	if (strncmp(line, "pam_vault(", strlen("pam_vault(")) != 0)
		other_logs++;
	else if (end > line && strcmp(end, "): conversation failed") == 0)
		; /* pam_get_authtok's, for the module's failed conversation */
	else if ((priority & LOG_PRIMASK) == LOG_DEBUG)
		debug_logs++;
	else
		logs++;
	if (getenv("CYCLES_VERBOSE") != NULL)
		fprintf(stderr, "SYSLOG(%d): %s\n", priority & LOG_PRIMASK, line);
}

void syslog(int priority, const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	catch_log(priority, format, ap);
	va_end(ap);
}

void vsyslog(int priority, const char *format, va_list ap)
{
	catch_log(priority, format, ap);
}

void __syslog_chk(int priority, int flag, const char *format, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, format);
	catch_log(priority, format, ap);
	va_end(ap);
}

void __vsyslog_chk(int priority, int flag, const char *format, va_list ap)
{
	(void)flag;
	catch_log(priority, format, ap);
}

/* The number of open descriptors, not counting the one that reads them. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and d's own */
}

/*
 * The smallest count over a few samples: a connection the engine is still
 * closing on another thread is transient, a leaked descriptor stays.
 */
static int settled_fds(void)
{
	int best = count_fds();
	struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};

	for (int i = 0; i < 4; i++) {
		nanosleep(&pause, NULL);
		int n = count_fds();
		if (n < best)
			best = n;
	}
	return best;
}

/* The threads of this process. */
static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *ent;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((ent = readdir(d)) != NULL)
		n += ent->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The child processes of this process, from each thread's children file. */
static int count_children(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *ent;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((ent = readdir(d)) != NULL) {
		char path[300];
		if (ent->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children", ent->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		long pid;
		while (fscanf(f, "%ld", &pid) == 1)
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* How a failing cycle's conversation fails. */
struct failure {
	int code;
	long delay_us;
};

/* A conversation that fails with the given code after the given pause. */
static int conv_failing(int n, const struct pam_message **msg,
			struct pam_response **resp, void *data)
{
	const struct failure *f = data;
	struct timespec pause = {0, f->delay_us * 1000};

	(void)n;
	(void)msg;
	(void)resp;
	nanosleep(&pause, NULL);
	return f->code;
}

/* xorshift64*: reproducible, well-formed, never-issued OTPs. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static void unknown_otp(char out[37])
{
	uint64_t a = next_random(), b = next_random();

	snprintf(out, 37, "%08llx-%04llx-%04llx-%04llx-%012llx",
		 (unsigned long long)(a >> 32), (unsigned long long)((a >> 16) & 0xffff),
		 (unsigned long long)(a & 0xffff), (unsigned long long)(b >> 48),
		 (unsigned long long)(b & 0xffffffffffffULL));
}

int main(int argc, char **argv)
{
	if (argc != 8 && argc != 10) {
		fprintf(stderr, "usage: %s CONFDIR SERVICE USER CYCLES EVERY OTPFILE REPORT [FAIL_EVERY ABANDON_SERVICE]\n", argv[0]);
		return 64;
	}
	const char *confdir = argv[1], *service = argv[2], *user = argv[3];
	long cycles = atol(argv[4]), every = atol(argv[5]), report = atol(argv[7]);
	long fail_every = argc == 10 ? atol(argv[8]) : 0;
	const char *abandon_service = argc == 10 ? argv[9] : NULL;
	if (cycles <= 0 || every <= 0 || report <= 0 || fail_every < 0) {
		fprintf(stderr, "CYCLES, EVERY and REPORT must be positive\n");
		return 64;
	}
	FILE *otps = fopen(argv[6], "r");
	if (otps == NULL) {
		perror(argv[6]);
		return 1;
	}
	long success = 0, auth_err = 0, unexpected = 0, conv_err = 0, incomplete = 0;
	char valid[64], unknown[37];

	for (long i = 1; i <= cycles; i++) {
		struct pam_conv conv = {harness_answer, NULL};
		struct failure failure;
		const char *svc = service;
		int want;
		if (i % every != 0 && fail_every > 0 && i % fail_every == 0) {
			long k = i / fail_every;
			failure.code = k % 2 ? PAM_CONV_ERR : PAM_CONV_AGAIN;
			failure.delay_us = (k / 2) % 2 ? 2000 : 0;
			conv.conv = conv_failing;
			conv.appdata_ptr = &failure;
			want = k % 2 ? PAM_CONV_ERR : PAM_INCOMPLETE;
			if (want == PAM_INCOMPLETE)
				svc = abandon_service;
		} else if (i % every == 0) {
			if (fgets(valid, sizeof(valid), otps) == NULL) {
				fprintf(stderr, "cycle %ld: %s has no OTP left\n", i, argv[6]);
				return 1;
			}
			valid[strcspn(valid, "\r\n")] = '\0';
			conv.appdata_ptr = valid;
			want = PAM_SUCCESS;
		} else {
			unknown_otp(unknown);
			conv.appdata_ptr = unknown;
			want = PAM_AUTH_ERR;
		}
		pam_handle_t *pamh = NULL;
		int rc = pam_start_confdir(svc, user, &conv, confdir, &pamh);
		if (rc != PAM_SUCCESS) {
			fprintf(stderr, "cycle %ld: pam_start_confdir: %d\n", i, rc);
			return 1;
		}
		if (pam_set_item(pamh, PAM_RHOST, "127.0.0.1") != PAM_SUCCESS ||
		    pam_set_item(pamh, PAM_TTY, "ssh") != PAM_SUCCESS) {
			fprintf(stderr, "cycle %ld: pam_set_item failed\n", i);
			return 1;
		}
		rc = pam_authenticate(pamh, 0);
		if (rc == PAM_SUCCESS)
			success++;
		else if (rc == PAM_AUTH_ERR)
			auth_err++;
		else if (rc == PAM_CONV_ERR)
			conv_err++;
		else if (rc == PAM_INCOMPLETE)
			incomplete++;
		if (rc != want && unexpected++ < 5)
			fprintf(stderr, "cycle %ld: got %d (%s), want %d\n", i, rc,
				pam_strerror(pamh, rc), want);
		rc = pam_end(pamh, rc);
		if (rc != PAM_SUCCESS) {
			fprintf(stderr, "cycle %ld: pam_end: %d\n", i, rc);
			return 1;
		}
		if (i % report == 0) {
			int fds = settled_fds();
			printf("cycle %ld fds %d rss_kb %ld threads %d children %d\n", i, fds,
			       harness_status_kb("VmRSS"), count_threads(), count_children());
			fflush(stdout);
		}
	}
	fclose(otps);
	printf("done cycles %ld success %ld auth_err %ld unexpected %ld logs %ld debug_logs %ld other_logs %ld conv_err %ld incomplete %ld\n",
	       cycles, success, auth_err, unexpected, logs, debug_logs, other_logs, conv_err, incomplete);
	return 0;
}
