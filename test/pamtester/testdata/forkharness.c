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
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define CHILD_DEADLINE_SECONDS 20

/* Authenticates on pamh with token as the answer to every prompt. */
static int authenticate(pam_handle_t *pamh, const char *token)
{
	struct pam_conv conv = {harness_answer, (void *)token};
	int rc = pam_set_item(pamh, PAM_CONV, &conv);

	if (rc != PAM_SUCCESS)
		return rc;
	return pam_authenticate(pamh, 0);
}

int main(int argc, char **argv)
{
	struct pam_conv conv = {harness_answer, ""};
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
		rc = authenticate(pamh, argv[4]);
		printf("parent %d\n", rc);
		fflush(stdout);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		rc = authenticate(pamh, argv[3]);
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
