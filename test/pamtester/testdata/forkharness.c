/*
 * forkharness drives libpam the way OpenSSH authenticates keyboard-interactive
 * logins: pam_start() in the parent, pam_authenticate() in a forked child.
 *
 *   forkharness SERVICE USER CHILD_TOKEN [PARENT_TOKEN]
 *   forkharness -thread MICROSECONDS THREAD_TOKEN SERVICE USER CHILD_TOKEN
 *
 * With PARENT_TOKEN the parent authenticates once before forking, which
 * loads pam_vault's engine into the parent: the child must then take the
 * helper path. With -thread, another thread of the parent authenticates on
 * a handle of its own, which starts the first load of the engine, and the
 * main thread forks MICROSECONDS later, maybe while that load is under way.
 * Prints "parent <code>" or "thread <code>" and "child <code>" with PAM's
 * numeric codes, or "child hang" when the child has no verdict within 20
 * seconds.
 */
#include <pthread.h>
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

struct login {
	const char *service, *user, *token;
	int rc;
};

/* Authenticates on a handle of its own, as a second login of the host. */
static void *login_thread(void *arg)
{
	struct login *l = arg;
	struct pam_conv conv = {harness_answer, (void *)l->token};
	pam_handle_t *pamh = NULL;

	l->rc = pam_start(l->service, l->user, &conv, &pamh);
	if (l->rc == PAM_SUCCESS) {
		l->rc = pam_authenticate(pamh, 0);
		pam_end(pamh, l->rc);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct pam_conv conv = {harness_answer, ""};
	pam_handle_t *pamh = NULL;
	struct login second = {.rc = -1};
	pthread_t thread;
	long delay_us = -1;
	int rc;

	if (argc == 7 && strcmp(argv[1], "-thread") == 0) {
		delay_us = strtol(argv[2], NULL, 10);
		second.token = argv[3];
		argv += 3;
		argc -= 3;
	}
	if ((argc != 4 && argc != 5) || (delay_us >= 0 && argc != 4)) {
		fprintf(stderr, "usage: %s SERVICE USER CHILD_TOKEN [PARENT_TOKEN]\n"
				"       %s -thread MICROSECONDS THREAD_TOKEN SERVICE USER CHILD_TOKEN\n",
			argv[0], argv[0]);
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
	if (delay_us >= 0) {
		second.service = argv[1];
		second.user = argv[2];
		if (pthread_create(&thread, NULL, login_thread, &second) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			return 1;
		}
		struct timespec pause = {delay_us / 1000000, (delay_us % 1000000) * 1000};
		nanosleep(&pause, NULL);
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
	if (delay_us >= 0) {
		if (pthread_join(thread, NULL) != 0) {
			fprintf(stderr, "pthread_join failed\n");
			return 1;
		}
		printf("thread %d\n", second.rc);
	}
	pam_end(pamh, rc);
	return 0;
}
