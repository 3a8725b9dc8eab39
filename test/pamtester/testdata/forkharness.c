/*
 * forkharness drives libpam the way OpenSSH authenticates keyboard-interactive
 * logins: pam_start() in the parent, pam_authenticate() in a forked child.
 *
 *   forkharness SERVICE USER CHILD_TOKEN [PARENT_TOKEN]
 *   forkharness -thread MICROSECONDS THREAD_TOKEN SERVICE USER CHILD_TOKEN
 *   forkharness -conv MICROSECONDS FIRST_TOKEN SERVICE USER CHILD_TOKEN PARENT_TOKEN
 *
 * With PARENT_TOKEN the parent authenticates once before forking, which
 * loads pam_vault's engine into the parent: the child must then take the
 * helper path. With -thread, another thread of the parent authenticates on
 * a handle of its own, which starts the first load of the engine, and the
 * main thread forks MICROSECONDS later, maybe while that load is under way.
 * With -conv, the host forks during the conversation, from inside its
 * conversation function, MICROSECONDS after pam_vault asked for the token,
 * while the module's early work may still be under way: the parent answers
 * PARENT_TOKEN and the child CHILD_TOKEN, and both go on to a verdict. With
 * a FIRST_TOKEN other than "-", a process authenticates with it first and
 * then forks the process that does all that, whose engine was thus loaded
 * by an ancestor.
 * Prints "first <code>", "parent <code>" or "thread <code>" and
 * "child <code>" with PAM's numeric codes, or "child hang" or "parent hang"
 * when that process has no verdict within 20 seconds.
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

/*
 * Waits for pid for CHILD_DEADLINE_SECONDS; kills it and prints "<name>
 * hang" when it is not done by then.
 */
static int wait_or_kill(pid_t pid, const char *name)
{
	time_t deadline = time(NULL) + CHILD_DEADLINE_SECONDS;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0) {
			perror("waitpid");
			return -1;
		}
		if (time(NULL) >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			printf("%s hang\n", name);
			fflush(stdout);
			return 0;
		}
		usleep(10000);
	}
}

/* What the forking conversation needs: when to fork, what each answers. */
struct conv_fork {
	long delay_us;
	const char *parent_token, *child_token;
	pid_t child; /* 0 in the child, and before the fork */
	int forked;
};

/*
 * A conversation function that forks the process on the first prompt,
 * delay_us after it is asked, then answers as harness_answer does, each
 * side with its own token.
 */
static int conv_forking(int n, const struct pam_message **msg,
			struct pam_response **resp, void *data)
{
	struct conv_fork *c = data;
	int prompt = 0;

	for (int i = 0; i < n; i++)
		prompt |= msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
			  msg[i]->msg_style == PAM_PROMPT_ECHO_ON;
	if (prompt && !c->forked) {
		struct timespec pause = {c->delay_us / 1000000, (c->delay_us % 1000000) * 1000};
		nanosleep(&pause, NULL);
		fflush(stdout);
		c->child = fork();
		if (c->child < 0)
			return PAM_CONV_ERR;
		c->forked = 1;
	}
	return harness_answer(n, msg, resp,
			      (void *)(c->forked && c->child == 0 ? c->child_token : c->parent_token));
}

/*
 * The -conv mode: pam_authenticate with conv_forking, a verdict in the
 * parent and in the child; with first_token, after a first login in a
 * process that then forks the one that does this.
 */
static int conv_fork_mode(long delay_us, const char *first_token, const char *service,
			  const char *user, const char *child_token, const char *parent_token)
{
	struct conv_fork c = {delay_us, parent_token, child_token, 0, 0};
	struct pam_conv conv = {conv_forking, &c};
	pam_handle_t *pamh = NULL;
	int rc = pam_start(service, user, &conv, &pamh);

	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "pam_start: %d\n", rc);
		return 1;
	}
	if (strcmp(first_token, "-") != 0) {
		struct pam_conv first = {harness_answer, (void *)first_token};
		if ((rc = pam_set_item(pamh, PAM_CONV, &first)) == PAM_SUCCESS)
			rc = pam_authenticate(pamh, 0);
		printf("first %d\n", rc);
		fflush(stdout);
		if ((rc = pam_set_item(pamh, PAM_CONV, &conv)) != PAM_SUCCESS) {
			fprintf(stderr, "pam_set_item: %d\n", rc);
			return 1;
		}
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid > 0) {
			int ret = wait_or_kill(pid, "parent") != 0;
			pam_end(pamh, PAM_SUCCESS);
			return ret;
		}
	}
	rc = pam_authenticate(pamh, 0);
	if (c.child == 0 && c.forked) {
		printf("child %d\n", rc);
		fflush(stdout);
		_exit(0);
	}
	printf("parent %d\n", rc);
	fflush(stdout);
	if (c.forked && wait_or_kill(c.child, "child") != 0)
		return 1;
	pam_end(pamh, rc);
	if (strcmp(first_token, "-") != 0)
		_exit(0);
	return 0;
}

int main(int argc, char **argv)
{
	struct pam_conv conv = {harness_answer, ""};
	pam_handle_t *pamh = NULL;
	struct login second = {.rc = -1};
	pthread_t thread;
	long delay_us = -1;
	int rc;

	if (argc == 8 && strcmp(argv[1], "-conv") == 0)
		return conv_fork_mode(strtol(argv[2], NULL, 10), argv[3], argv[4],
				      argv[5], argv[6], argv[7]);
	if (argc == 7 && strcmp(argv[1], "-thread") == 0) {
		delay_us = strtol(argv[2], NULL, 10);
		second.token = argv[3];
		argv += 3;
		argc -= 3;
	}
	if ((argc != 4 && argc != 5) || (delay_us >= 0 && argc != 4)) {
		fprintf(stderr, "usage: %s SERVICE USER CHILD_TOKEN [PARENT_TOKEN]\n"
				"       %s -thread MICROSECONDS THREAD_TOKEN SERVICE USER CHILD_TOKEN\n"
				"       %s -conv MICROSECONDS FIRST_TOKEN SERVICE USER CHILD_TOKEN PARENT_TOKEN\n",
			argv[0], argv[0], argv[0]);
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
	if (wait_or_kill(pid, "child") != 0)
		return 1;
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
