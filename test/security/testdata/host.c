/*
 * host is a PAM application that changes its own process state before it
 * authenticates, the way some real hosts do, and reports what the
 * authentication did to that state.
 *
 *   host env clearenv|environ-null|unsetenv SERVICE USER TOKEN
 *	Empties the environment before pam_authenticate: clearenv(), as
 *	polkit-agent-helper-1 does; environ = NULL; or a setenv() that moves
 *	environ off the initial block, then unsetenv() of every variable.
 *	pam_wrapper's own variables are put back afterwards. Prints
 *	"code N".
 *
 *   host signals SERVICE USER TOKEN
 *	Blocks SIGCHLD, SIGURG and SIGPROF, ignores SIGPIPE, installs a
 *	SIGUSR1 handler without SA_ONSTACK, reads SIGCHLD through a
 *	signalfd, as hosts that reap their children synchronously do, and
 *	authenticates. Prints "code N", then one line per part of the state
 *	that the authentication changed ("changed: ..."), then whether an
 *	exec'd child still starts with SIGPIPE ignored, then "sigchld
 *	received" or "sigchld lost" for a child that exits afterwards.
 *
 *   host signals-loaded SERVICE USER TOKEN
 *	The same, but a thread with no signal blocked authenticates first,
 *	which loads the engine, before the main thread blocks the signals
 *	and authenticates too.
 *
 *   host fork-blocked SERVICE USER TOKEN
 *	Authenticates, then starts a child the way sudo starts its command:
 *	every signal blocked on the calling thread around fork(), the child
 *	exits at once, and only then is a SIGCHLD handler installed and the
 *	mask restored. Before that it waits until the child has exited and,
 *	while the process has other threads, until SIGCHLD is no longer
 *	pending (bounded). Prints "code N", then "sigchld handled" when the
 *	handler saw the child's exit, or "sigchld lost".
 *
 *   host sigpipe-ignored
 *	Prints "SIGPIPE ignored: yes" or "no": what the exec'd child sees.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

static int authenticate(const char *service, const char *user,
			const char *token)
{
	struct pam_conv conv = {harness_answer, (void *)token};
	pam_handle_t *pamh = NULL;
	int rc = pam_start(service, user, &conv, &pamh);

	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "pam_start: %d\n", rc);
		exit(1);
	}
	rc = pam_authenticate(pamh, 0);
	pam_end(pamh, rc);
	return rc;
}

static int empty_environment(const char *how)
{
	static const char *const keep[] = {
		"PAM_WRAPPER", "PAM_WRAPPER_SERVICE_DIR", "PAM_WRAPPER_DEBUGLEVEL", NULL,
	};
	char *saved[3] = {NULL};

	for (int i = 0; keep[i] != NULL; i++)
		if (getenv(keep[i]) != NULL && (saved[i] = strdup(getenv(keep[i]))) == NULL)
			return -1;
	if (strcmp(how, "clearenv") == 0) {
		if (clearenv() != 0)
			return -1;
	} else if (strcmp(how, "environ-null") == 0) {
		environ = NULL;
	} else if (strcmp(how, "unsetenv") == 0) {
		/* setenv copies environ to the heap; unsetenv then edits the copy. */
		if (setenv("HOST_MOVED", "1", 1) != 0)
			return -1;
		while (environ != NULL && environ[0] != NULL) {
			char name[256];
			size_t n = strcspn(environ[0], "=");
			if (n >= sizeof(name))
				return -1;
			memcpy(name, environ[0], n);
			name[n] = '\0';
			if (unsetenv(name) != 0)
				return -1;
		}
	} else {
		return -1;
	}
	for (int i = 0; keep[i] != NULL; i++)
		if (saved[i] != NULL && setenv(keep[i], saved[i], 1) != 0)
			return -1;
	return 0;
}

static void on_usr1(int sig)
{
	(void)sig;
}

struct signal_state {
	sigset_t mask;
	struct sigaction act[NSIG];
};

static const int watched[] = {SIGCHLD, SIGURG, SIGPROF, SIGPIPE, SIGUSR1, 0};

static int read_state(struct signal_state *s)
{
	if (pthread_sigmask(SIG_SETMASK, NULL, &s->mask) != 0)
		return -1;
	for (int i = 0; watched[i] != 0; i++)
		if (sigaction(watched[i], NULL, &s->act[watched[i]]) != 0)
			return -1;
	return 0;
}

static const char *disposition(const struct sigaction *a)
{
	if (a->sa_handler == SIG_IGN)
		return "SIG_IGN";
	if (a->sa_handler == SIG_DFL)
		return "SIG_DFL";
	return a->sa_handler == on_usr1 ? "the host's handler" : "another handler";
}

static void print_changes(const struct signal_state *before,
			  const struct signal_state *after)
{
	for (int i = 0; watched[i] != 0; i++) {
		int sig = watched[i];
		const struct sigaction *b = &before->act[sig], *a = &after->act[sig];
		if (sigismember(&before->mask, sig) != sigismember(&after->mask, sig))
			printf("changed: %s %s on the calling thread\n", sigabbrev_np(sig),
			       sigismember(&after->mask, sig) ? "blocked" : "unblocked");
		if (a->sa_handler != b->sa_handler)
			printf("changed: %s disposition %s -> %s\n", sigabbrev_np(sig),
			       disposition(b), disposition(a));
		if ((a->sa_flags & SA_ONSTACK) != (b->sa_flags & SA_ONSTACK))
			printf("changed: %s handler flags gained SA_ONSTACK\n", sigabbrev_np(sig));
	}
}

struct login {
	const char *service, *user, *token;
	int code;
};

static void *login_thread(void *arg)
{
	struct login *l = arg;

	l->code = authenticate(l->service, l->user, l->token);
	return NULL;
}

static int signals(const char *argv0, int load_first, const char *service,
		   const char *user, const char *token)
{
	struct signal_state before, after;
	struct login first = {service, user, token, -1};
	pthread_t thread;
	struct sigaction usr1 = {.sa_handler = on_usr1};
	sigset_t blocked, chld;

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGCHLD);
	sigaddset(&blocked, SIGURG);
	sigaddset(&blocked, SIGPROF);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || sigaction(SIGUSR1, &usr1, NULL) != 0 ||
	    read_state(&before) != 0) {
		perror("setting up signals");
		return 1;
	}
	if (load_first) {
		if (pthread_create(&thread, NULL, login_thread, &first) != 0 ||
		    pthread_join(thread, NULL) != 0) {
			perror("pthread");
			return 1;
		}
		printf("first code %d\n", first.code);
	}
	if (pthread_sigmask(SIG_BLOCK, &blocked, NULL) != 0 ||
	    pthread_sigmask(SIG_BLOCK, NULL, &before.mask) != 0) {
		perror("blocking signals");
		return 1;
	}
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		perror("signalfd");
		return 1;
	}
	printf("code %d\n", authenticate(service, user, token));
	if (read_state(&after) != 0) {
		perror("reading signal state");
		return 1;
	}
	print_changes(&before, &after);
	fflush(stdout);
	/* The helper's exit, if the module started one, is not what is checked. */
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;

	pid_t pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv0, "sigpipe-ignored", (char *)NULL);
		_exit(127);
	}
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	/* The child's exit must reach the signalfd, not a thread that drops it. */
	struct pollfd p = {.fd = sfd, .events = POLLIN};
	int n = poll(&p, 1, 5000);
	if (n == 1 && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
	    si.ssi_signo == SIGCHLD && si.ssi_pid == (uint32_t)pid)
		printf("sigchld received\n");
	else
		printf("sigchld lost\n");
	int status;
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	return 0;
}

static volatile sig_atomic_t sigchld_seen;

static void on_chld(int sig)
{
	(void)sig;
	sigchld_seen = 1;
}

/* The number of threads of this process, or -1. */
static int threads(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static int fork_blocked(const char *service, const char *user, const char *token)
{
	struct sigaction chld = {.sa_handler = on_chld};
	sigset_t all, old, pending;
	siginfo_t info;

	printf("code %d\n", authenticate(service, user, token));
	fflush(stdout);
	sigfillset(&all);
	if (pthread_sigmask(SIG_BLOCK, &all, &old) != 0) {
		perror("blocking signals");
		return 1;
	}
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) != 0) {
		perror("waitid");
		return 1;
	}
	/* Another thread that does not block SIGCHLD takes it; give it 5 s. */
	for (int i = 0; i < 5000 && threads() > 1; i++) {
		if (sigpending(&pending) != 0) {
			perror("sigpending");
			return 1;
		}
		if (!sigismember(&pending, SIGCHLD))
			break;
		usleep(1000);
	}
	if (sigaction(SIGCHLD, &chld, NULL) != 0 ||
	    pthread_sigmask(SIG_SETMASK, &old, NULL) != 0) {
		perror("installing the handler");
		return 1;
	}
	printf("sigchld %s\n", sigchld_seen ? "handled" : "lost");
	int status;
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "sigpipe-ignored") == 0) {
		struct sigaction a;
		if (sigaction(SIGPIPE, NULL, &a) != 0)
			return 1;
		printf("exec'd child: SIGPIPE ignored: %s\n", a.sa_handler == SIG_IGN ? "yes" : "no");
		return 0;
	}
	if (argc == 6 && strcmp(argv[1], "env") == 0) {
		if (empty_environment(argv[2]) != 0) {
			fprintf(stderr, "cannot empty the environment (%s)\n", argv[2]);
			return 1;
		}
		printf("code %d\n", authenticate(argv[3], argv[4], argv[5]));
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "signals") == 0)
		return signals(argv[0], 0, argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "signals-loaded") == 0)
		return signals(argv[0], 1, argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "fork-blocked") == 0)
		return fork_blocked(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: %s env clearenv|environ-null|unsetenv SERVICE USER TOKEN\n"
			"       %s signals|signals-loaded|fork-blocked SERVICE USER TOKEN\n", argv[0], argv[0]);
	return 64;
}
