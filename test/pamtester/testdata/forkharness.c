/*
 * forkharness drives libpam the way OpenSSH authenticates keyboard-interactive
 * logins: pam_start() in the parent, pam_authenticate() in a forked child.
 *
 *   forkharness SERVICE USER CHILD_TOKEN [PARENT_TOKEN]
 *
 * With PARENT_TOKEN the parent authenticates once before forking, which
 * loads pam_vault's engine into the parent: the child must then take the
 * helper path. Prints "parent <code>" and "child <code>" with PAM's numeric
 * codes, or "child hang" when the child has no verdict within 20 seconds.
 */
#include <security/pam_appl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_DEADLINE_SECONDS 20

static const char *token;

static int answer(int n, const struct pam_message **msg,
		  struct pam_response **resp, void *data)
{
	(void)data;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
		case PAM_PROMPT_ECHO_ON:
			r[i].resp = strdup(token);
			if (r[i].resp == NULL)
				return PAM_BUF_ERR;
			break;
		default:
			fprintf(stderr, "message: %s\n", msg[i]->msg);
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

int main(int argc, char **argv)
{
	struct pam_conv conv = {answer, NULL};
	pam_handle_t *pamh = NULL;
	int rc;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: %s SERVICE USER CHILD_TOKEN [PARENT_TOKEN]\n", argv[0]);
		return 64;
	}
	rc = pam_start(argv[1], argv[2], &conv, &pamh);
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "pam_start: %d\n", rc);
		return 1;
	}
	if (argc == 5) {
		token = argv[4];
		rc = pam_authenticate(pamh, 0);
		printf("parent %d\n", rc);
		fflush(stdout);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		token = argv[3];
		rc = pam_authenticate(pamh, 0);
		printf("child %d\n", rc);
		fflush(stdout);
		_exit(0);
	}
	time_t deadline = time(NULL) + CHILD_DEADLINE_SECONDS;
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0) {
			perror("waitpid");
			return 1;
		}
		if (time(NULL) >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			printf("child hang\n");
			fflush(stdout);
			break;
		}
		usleep(10000);
	}
	pam_end(pamh, rc);
	return 0;
}
