/*
 * pam_vault.c: the PAM side of pam_vault.
 *
 * This object is all that PAM loads. It talks to PAM (user, token, items,
 * syslog, return codes) and leaves the verdict to the Go engine,
 * pam_vault_go.so, which it loads beside itself on first use.
 *
 * The engine is loaded lazily, in the process that authenticates, because a
 * Go runtime started before a fork() hangs in the child: Linux-PAM loads every
 * module at pam_start(), and OpenSSH authenticates keyboard-interactive logins
 * in a child forked after that. When the engine was nevertheless loaded by an
 * ancestor of this process, the adapter never calls into it and runs the same
 * engine in a fresh process instead: `pam-vault-check helper`. It does the
 * same in every host but sshd unless told otherwise (in_process_wanted).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "pam_vault_engine.h"

#ifndef PAM_VAULT_SBINDIR
#define PAM_VAULT_SBINDIR "/usr/sbin"
#endif

#define HELPER_NAME "pam-vault-check"

/* The prompt of TOTP mode, asked with echo off. */
#define TOTP_PROMPT "Verification code: "

/*
 * The helper's directory when it is not beside the module. The prefix lets
 * `pam-vault-check doctor` read the directory out of this file, which
 * exports nothing but the pam_sm_* functions (internal/doctor/files.go).
 */
#define SBINDIR_MARKER "pam_vault.sbindir="
static const char helper_dir_record[] = SBINDIR_MARKER PAM_VAULT_SBINDIR;
#define HELPER_DIR (helper_dir_record + sizeof(SBINDIR_MARKER) - 1)

/*
 * The helper's hard deadline: the longest timeout a config file may set
 * plus time to start a process.
 */
#define HELPER_DEADLINE_MS ((PAM_VAULT_MAX_TIMEOUT_S + 5) * 1000)

/* Bounds of the helper's wire format; see internal/engine/wire.go. */
#define HELPER_REQUEST_MAX PAM_VAULT_REQUEST_MAX
#define HELPER_VERDICT_MAX (4 + PAM_VAULT_MESSAGE_SIZE + PAM_VAULT_LOG_SIZE)

/*
 * Variables the Go runtime reads from the environment when the engine loads,
 * and those with which Go's net package hands name lookups to glibc, which
 * then honours them (HOSTALIASES renames a host, LOCALDOMAIN and RES_OPTIONS
 * set the search list and ndots): with them, the caller would choose which
 * server vault_addr's host name resolves to. The caller's environment
 * belongs to whoever started it (su, sudo), so when any of these is set the
 * verdict is made in a helper process instead, which starts with an empty
 * environment.
 */
static const char *const engine_env_vars[] = {
	"GODEBUG", "GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GOTRACEBACK",
	"HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS", NULL,
};

/*
 * The environment block the engine's Go runtime reads when it starts: glibc
 * calls the constructors of an object it loads with the process's argc and
 * argv, the engine's as this one's, and the runtime reads the array after
 * argv. clearenv(), unsetenv() after setenv() and an assignment to environ
 * leave that array as it was, so environ alone does not show what Go will
 * read. Set once, before PAM can call the module; read only.
 */
static char **initial_environ;

__attribute__((constructor)) static void record_initial_environ(int argc,
								char **argv,
								char **envp)
{
	(void)envp; /* environ as it is now, not the block Go reads */
	if (argc >= 0 && argv != NULL)
		initial_environ = argv + argc + 1;
}

/* The first of engine_env_vars set in env, or NULL. */
static const char *engine_env_var_in(char *const *env)
{
	for (; env != NULL && *env != NULL; env++)
		for (int i = 0; engine_env_vars[i] != NULL; i++) {
			size_t n = strlen(engine_env_vars[i]);
			if (strncmp(*env, engine_env_vars[i], n) == 0 &&
			    (*env)[n] == '=')
				return engine_env_vars[i];
		}
	return NULL;
}

/*
 * Held while a thread of this process loads the engine. It is never waited
 * for: a process forked while another of its threads held it has it held
 * for good, by a thread it does not have.
 */
static pthread_mutex_t engine_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Under these limits the Go runtime does not fail, it kills the process
 * ("failed to reserve page summary memory", "pthread_create failed",
 * "netpollinit failed"), and the caller of a setuid program such as su sets
 * them. Measured with Go 1.26 on amd64, a login in process needed about
 * 1.6 GB of address space (it died at points up to 1.5 GB), 150 MB of data,
 * 8 descriptors and 8 tasks; these have a margin for bigger machines, where
 * the runtime starts more threads. RLIMIT_STACK is not here: pamtester died
 * as often under an 80 KiB stack through the helper as in process, and both
 * lived at 88 KiB.
 */
static const struct {
	int resource;
	const char *name;
	rlim_t least;
} engine_limits[] = {
	{RLIMIT_AS, "RLIMIT_AS", (rlim_t)4 << 30},
	{RLIMIT_DATA, "RLIMIT_DATA", (rlim_t)1 << 30},
	{RLIMIT_NOFILE, "RLIMIT_NOFILE", 64},
	{RLIMIT_NPROC, "RLIMIT_NPROC", 256},
};

/*
 * Writes into why the reason the engine must not be loaded into this process
 * now; returns 0 when loading it is safe. The Go runtime's threads never
 * block SIGCHLD, SIGURG, SIGPROF or the first real-time signal, so once the
 * engine is loaded they take those signals from a host that blocks them to
 * read them with signalfd() or sigwait(): a SIGCHLD whose disposition is the
 * default is then discarded.
 */
static int load_hazard(char *why, size_t len)
{
	const int taken[] = {SIGCHLD, SIGURG, SIGPROF, SIGRTMIN};
	const char *const taken_names[] = {"SIGCHLD", "SIGURG", "SIGPROF", "SIGRTMIN"};
	sigset_t mask;

	if (pthread_sigmask(SIG_BLOCK, NULL, &mask) != 0) {
		snprintf(why, len, "the signal mask cannot be read");
		return -1;
	}
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		if (sigismember(&mask, taken[i]) == 1) {
			snprintf(why, len, "%s is blocked, and the engine's threads would take it",
				 taken_names[i]);
			return -1;
		}
	for (size_t i = 0; i < sizeof(engine_limits) / sizeof(engine_limits[0]); i++) {
		struct rlimit rl;
		if (getrlimit(engine_limits[i].resource, &rl) != 0) {
			snprintf(why, len, "%s cannot be read", engine_limits[i].name);
			return -1;
		}
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < engine_limits[i].least) {
			snprintf(why, len, "%s is %llu, below the %llu the engine needs",
				 engine_limits[i].name, (unsigned long long)rl.rlim_cur,
				 (unsigned long long)engine_limits[i].least);
			return -1;
		}
	}
	return 0;
}

/*
 * Loads the engine. Its Go runtime installs a SIGPIPE handler; a SIGPIPE
 * the host ignored is ignored again, or the programs it execs would no
 * longer start with it ignored. The runtime copes: its writes to a closed
 * connection then fail with EPIPE, as they do under its handler.
 */
static void *load_engine(const char *path, char *err, size_t err_len)
{
	struct sigaction sigpipe;
	int ignored = sigaction(SIGPIPE, NULL, &sigpipe) == 0 && sigpipe.sa_handler == SIG_IGN;
	void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (ignored && sigaction(SIGPIPE, &sigpipe, NULL) != 0)
		snprintf(err, err_len, "cannot ignore SIGPIPE again: %s", strerror(errno));
	return handle;
}

static int has_arg(int argc, const char **argv, const char *name)
{
	for (int i = 0; i < argc; i++)
		if (argv[i] != NULL && strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

/* Writes "<directory of this object>/name" into buf. */
static int path_beside_module(char *buf, size_t len, const char *name)
{
	Dl_info info;

	if (dladdr((void *)&path_beside_module, &info) == 0 ||
	    info.dli_fname == NULL)
		return -1;
	const char *slash = strrchr(info.dli_fname, '/');
	if (slash == NULL)
		return -1;
	int n = snprintf(buf, len, "%.*s/%s", (int)(slash - info.dli_fname),
			 info.dli_fname, name);
	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

/* The engine's entry points (cgo/pam_vault_engine.h). */
struct engine {
	pam_vault_begin_fn begin;
	pam_vault_finish_fn finish;
	pam_vault_cancel_fn cancel;
};

/*
 * Finds the engine's functions for this process, loading the engine when
 * that is safe (load_hazard). eng is left empty when the verdict must be
 * made in the helper instead, and why then says the reason. It logs nothing itself: a failure
 * is written into err, for the early work to log after the conversation.
 */
static int find_engine(struct engine *eng, char *why, size_t why_len,
		       char *err, size_t err_len)
{
	char path[PATH_MAX];
	int ret = PAM_SERVICE_ERR;

	memset(eng, 0, sizeof(*eng));
	if (path_beside_module(path, sizeof(path), PAM_VAULT_ENGINE_FILE) != 0) {
		snprintf(err, err_len, "cannot locate %s beside the module",
			 PAM_VAULT_ENGINE_FILE);
		return PAM_SERVICE_ERR;
	}
	int lock = pthread_mutex_trylock(&engine_lock);
	if (lock == EBUSY) {
		snprintf(why, why_len, "another thread is loading the engine");
		return PAM_SUCCESS;
	}
	if (lock != 0) {
		snprintf(err, err_len, "cannot lock the engine loader: %s", strerror(lock));
		return PAM_SERVICE_ERR;
	}
	void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	if (handle == NULL) {
		if (load_hazard(why, why_len) != 0) {
			ret = PAM_SUCCESS;
			goto out;
		}
		handle = load_engine(path, err, err_len);
	}
	if (handle == NULL) {
		snprintf(err, err_len, "cannot load the engine: %s", dlerror());
		goto out;
	}
	const pid_t *pid = dlsym(handle, PAM_VAULT_LOADER_SYMBOL);
	void *begin = dlsym(handle, PAM_VAULT_BEGIN_SYMBOL);
	void *finish = dlsym(handle, PAM_VAULT_FINISH_SYMBOL);
	void *cancel = dlsym(handle, PAM_VAULT_CANCEL_SYMBOL);
	if (pid == NULL || begin == NULL || finish == NULL || cancel == NULL) {
		snprintf(err, err_len, "%s is not a pam_vault engine", path);
		goto out;
	}
	if (*pid == getpid()) {
		eng->begin = (pam_vault_begin_fn)begin;
		eng->finish = (pam_vault_finish_fn)finish;
		eng->cancel = (pam_vault_cancel_fn)cancel;
	} else {
		snprintf(why, why_len, "engine was loaded by ancestor process %d", (int)*pid);
	}
	ret = PAM_SUCCESS;
out:
	/*
	 * The engine is linked with -z nodelete, as every Go c-shared object
	 * must be, so this only drops the reference dlopen took.
	 */
	if (handle != NULL)
		dlclose(handle);
	if ((lock = pthread_mutex_unlock(&engine_lock)) != 0) {
		snprintf(err, err_len, "cannot unlock the engine loader: %s", strerror(lock));
		ret = PAM_SERVICE_ERR;
	}
	return ret;
}

/*
 * Runs call(arg) on this thread, in the engine. The Go runtime unblocks the
 * signals it wants on a thread the first time the thread calls in, and
 * keeps them so while the thread lives: the thread's signal mask is put
 * back. Returns an errno value, 0 on success.
 */
static int in_engine(void (*call)(void *), void *arg)
{
	sigset_t mask;
	int err = pthread_sigmask(SIG_BLOCK, NULL, &mask);

	if (err != 0)
		return err;
	call(arg);
	return pthread_sigmask(SIG_SETMASK, &mask, NULL);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* Appends s and its NUL to buf; -1 when it would exceed the cap. */
static int append_field(char *buf, size_t *len, const char *s)
{
	size_t n = strlen(s) + 1;

	if (n > HELPER_REQUEST_MAX - *len)
		return -1;
	memcpy(buf + *len, s, n);
	*len += n;
	return 0;
}

/* The first part of the helper's request: the module's arguments. */
static int encode_args(int argc, const char **argv, char *buf, size_t *len)
{
	char count[16];
	int n = 0;

	for (int i = 0; i < argc; i++)
		n += argv[i] != NULL;
	snprintf(count, sizeof(count), "%d", n);
	*len = 0;
	if (append_field(buf, len, count) != 0)
		return -1;
	for (int i = 0; i < argc; i++)
		if (argv[i] != NULL && append_field(buf, len, argv[i]) != 0)
			return -1;
	return 0;
}

/* The rest of the helper's request, which holds the token. */
static int encode_rest(const struct pam_vault_request *req, char *buf,
		       size_t *len)
{
	const char *fields[] = {req->user, req->authtok, req->rhost,
				req->service, req->ssh_connection};

	_Static_assert(sizeof(fields) / sizeof(fields[0]) ==
			       PAM_VAULT_REQUEST_FIELDS,
		       "the helper's request fields");
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (append_field(buf, len, fields[i]) != 0)
			return -1;
	return 0;
}

/* Copies the next NUL-terminated field of buf into dst; -1 if malformed. */
static int take_field(const char **p, const char *end, char *dst, size_t size)
{
	const char *nul = memchr(*p, '\0', (size_t)(end - *p));

	if (nul == NULL || (size_t)(nul - *p) >= size)
		return -1;
	memcpy(dst, *p, (size_t)(nul - *p) + 1);
	*p = nul + 1;
	return 0;
}

static int decode_verdict(const char *buf, size_t len,
			  struct pam_vault_verdict *out)
{
	const char *p = buf, *end = buf + len;
	char result[4];

	if (take_field(&p, end, result, sizeof(result)) != 0 ||
	    take_field(&p, end, out->message, sizeof(out->message)) != 0 ||
	    take_field(&p, end, out->log, sizeof(out->log)) != 0 || p != end)
		return -1;
	if (result[0] < '0' || result[0] > '0' + PAM_VAULT_RESULT_MAX ||
	    result[1] != '\0')
		return -1;
	out->result = result[0] - '0';
	return 0;
}

/*
 * Reaps the helper, killing it once the deadline has passed. The first
 * pauses are short: a helper that has closed its socket is already exiting,
 * and a login should not wait a whole 5 ms tick for it.
 */
static int reap_helper(pid_t pid, long long deadline)
{
	long pause_ns = 50 * 1000;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : -1;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) /* reaped by the host's own SIGCHLD handling */
			return errno == ECHILD ? 0 : -1;
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return -1;
		}
		struct timespec tick = {.tv_sec = 0, .tv_nsec = pause_ns};
		nanosleep(&tick, NULL);
		if (pause_ns < 5 * 1000 * 1000)
			pause_ns *= 2;
	}
}

/* Starts the helper with fd as its stdin and stdout; err says why not. */
static int spawn_helper(int fd, pid_t *pid, char *errbuf, size_t errlen)
{
	char path[PATH_MAX];
	char *const argv[] = {HELPER_NAME, "helper", NULL};
	char *const envp[] = {NULL};
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int err;

	if (path_beside_module(path, sizeof(path), HELPER_NAME) != 0 ||
	    access(path, X_OK) != 0)
		snprintf(path, sizeof(path), "%s/%s", HELPER_DIR, HELPER_NAME);

	if ((err = posix_spawn_file_actions_init(&actions)) != 0)
		goto fail;
	if ((err = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&actions);
		goto fail;
	}
	sigemptyset(&none);
	sigfillset(&all);
	if ((err = posix_spawn_file_actions_adddup2(&actions, fd, 0)) != 0 ||
	    (err = posix_spawn_file_actions_adddup2(&actions, fd, 1)) != 0 ||
	    (err = posix_spawn_file_actions_addopen(&actions, 2, "/dev/null",
						     O_WRONLY, 0)) != 0 ||
#if __GLIBC_PREREQ(2, 34)
	    /* The host's descriptors are not the helper's business. */
	    (err = posix_spawn_file_actions_addclosefrom_np(&actions, 3)) != 0 ||
#endif
#if __GLIBC_PREREQ(2, 29)
	    /* Nor its working directory (in su and sudo, the user's). */
	    (err = posix_spawn_file_actions_addchdir_np(&actions, "/")) != 0 ||
#endif
	    (err = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (err = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
	    (err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
						       POSIX_SPAWN_SETSIGDEF)) != 0)
		goto destroy;
	/* An empty environment: the caller's belongs to whoever started it. */
	err = posix_spawn(pid, path, &actions, &attr, argv, envp);
destroy:
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	if (err == 0)
		return 0;
fail:
	snprintf(errbuf, errlen, "cannot start %s: %s", path, strerror(err));
	return -1;
}

/* Sends buf[0..len) to the helper before the deadline. */
static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
	size_t sent = 0;

	while (sent < len) {
		if (wait_fd(fd, POLLOUT, deadline) != 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ssize_t n = send(fd, buf + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -1;
		sent += (size_t)n;
	}
	return 0;
}

/*
 * A `pam-vault-check helper` process of one login. The request goes to its
 * standard input, the verdict comes from its standard output, over a socket
 * rather than pipes, so that a helper that dies early cannot raise SIGPIPE
 * in the host (send with MSG_NOSIGNAL).
 */
struct helper {
	pid_t pid;
	int fd;          /* this end of the socket; -1 when no helper runs */
	size_t args_len; /* bytes of the request sent with the arguments */
};

/*
 * Starts the helper and sends it the module's arguments, from which it
 * prepares the login while the user is asked for the token. A failure is
 * written into err, for the early work to log after the conversation.
 */
static int helper_start(struct helper *h, int argc, const char **argv,
			char *err, size_t err_len)
{
	char *buf = malloc(HELPER_REQUEST_MAX);
	size_t len;
	int sv[2], ret = -1;

	h->fd = -1;
	if (buf == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if (encode_args(argc, argv, buf, &len) != 0) {
		snprintf(err, err_len, "request for the helper is too large");
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(err, err_len, "socketpair: %s", strerror(errno));
		goto out;
	}
	if (spawn_helper(sv[1], &h->pid, err, err_len) != 0) {
		close(sv[0]);
		close(sv[1]);
		goto out;
	}
	close(sv[1]);
	h->fd = sv[0];
	h->args_len = len;
	if (send_all(h->fd, buf, len, now_ms() + HELPER_DEADLINE_MS) != 0) {
		snprintf(err, err_len, "writing to the helper: %s", strerror(errno));
		close(h->fd);
		h->fd = -1;
		reap_helper(h->pid, 0);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

/* Stops a helper that will get no request: no verdict is wanted from it. */
static void helper_cancel(struct helper *h)
{
	if (h->fd < 0)
		return;
	close(h->fd);
	h->fd = -1;
	reap_helper(h->pid, 0);
}

/*
 * Sends the rest of the request to the helper helper_start started and
 * reads its verdict, to EOF, all within HELPER_DEADLINE_MS. The whole
 * request, arguments included, is held to HELPER_REQUEST_MAX.
 */
static int helper_finish(pam_handle_t *pamh, struct helper *h,
			 const struct pam_vault_request *req,
			 struct pam_vault_verdict *out)
{
	long long deadline = now_ms() + HELPER_DEADLINE_MS;
	char *buf = malloc(HELPER_REQUEST_MAX);
	size_t len = h->args_len;
	int ret = -1;

	if (buf == NULL) {
		pam_syslog(pamh, LOG_CRIT, "out of memory");
		helper_cancel(h);
		return -1;
	}
	if (encode_rest(req, buf, &len) != 0) {
		pam_syslog(pamh, LOG_ERR, "request for the helper is too large");
		deadline = 0;
		goto reap;
	}
	if (send_all(h->fd, buf + h->args_len, len - h->args_len, deadline) != 0) {
		if (errno == ETIMEDOUT)
			goto timeout;
		pam_syslog(pamh, LOG_ERR, "writing to the helper: %m");
		goto reap;
	}
	explicit_bzero(buf, len);
	if (shutdown(h->fd, SHUT_WR) != 0) {
		pam_syslog(pamh, LOG_ERR, "shutdown: %m");
		goto reap;
	}
	len = 0;
	for (;;) {
		if (wait_fd(h->fd, POLLIN, deadline) != 0)
			goto timeout;
		ssize_t n = recv(h->fd, buf + len, HELPER_VERDICT_MAX - len,
				 MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			pam_syslog(pamh, LOG_ERR, "reading from the helper: %m");
			goto reap;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == HELPER_VERDICT_MAX) {
			pam_syslog(pamh, LOG_ERR, "helper answer too large");
			goto reap;
		}
	}
	if (decode_verdict(buf, len, out) != 0) {
		pam_syslog(pamh, LOG_ERR, "malformed answer from the helper");
		goto reap;
	}
	ret = 0;
	goto reap;
timeout:
	pam_syslog(pamh, LOG_ERR, "helper gave no verdict within %d s",
		   HELPER_DEADLINE_MS / 1000);
	deadline = 0; /* kill it now */
reap:
	close(h->fd);
	h->fd = -1;
	if (reap_helper(h->pid, deadline) != 0 && ret == 0) {
		pam_syslog(pamh, LOG_ERR, "helper failed after answering");
		ret = -1;
	}
	explicit_bzero(buf, HELPER_REQUEST_MAX);
	free(buf);
	return ret;
}

static int pam_code(int result)
{
	switch (result) {
	case PAM_VAULT_SUCCESS:
		return PAM_SUCCESS;
	case PAM_VAULT_AUTH_ERR:
		return PAM_AUTH_ERR;
	case PAM_VAULT_UNAVAILABLE:
		return PAM_AUTHINFO_UNAVAIL;
	case PAM_VAULT_IGNORE:
		return PAM_IGNORE;
	default:
		return PAM_SERVICE_ERR;
	}
}

static int log_priority(int result)
{
	switch (result) {
	case PAM_VAULT_SUCCESS:
		return LOG_INFO;
	case PAM_VAULT_AUTH_ERR:
	case PAM_VAULT_IGNORE:
		return LOG_NOTICE;
	default:
		return LOG_ERR;
	}
}

/*
 * Writes s as the engine writes a field of its log line
 * (internal/engine/log.go): as it is when plain, else in double quotes with
 * quotes and backslashes escaped and control and non-ASCII bytes as \xNN,
 * so that a caller's value can neither start a line nor forge a field. The
 * result is buf or s; what does not fit in buf is cut and marked "...".
 */
static const char *log_field(char *buf, size_t len, const char *s)
{
	size_t n = strlen(s), out = 0;
	int plain = n < len;

	for (size_t i = 0; plain && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		plain = c > ' ' && c < 0x7f && strchr("\"\\=;", c) == NULL;
	}
	if (plain)
		return s;
	buf[out++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[5];
		if (c == '"' || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c < ' ' || c >= 0x7f)
			snprintf(esc, sizeof(esc), "\\x%02x", c);
		else
			snprintf(esc, sizeof(esc), "%c", c);
		size_t e = strlen(esc);
		if (out + e + sizeof("...\"") > len) {
			memcpy(buf + out, "...", 3);
			out += 3;
			break;
		}
		memcpy(buf + out, esc, e);
		out += e;
	}
	buf[out++] = '"';
	buf[out] = '\0';
	return buf;
}

static const char *item_string(pam_handle_t *pamh, int type)
{
	const void *item = NULL;

	if (pam_get_item(pamh, type, &item) != PAM_SUCCESS || item == NULL)
		return "";
	return item;
}

/*
 * Gets a TOTP code into *code, which the caller must wipe and free. The
 * module asks with its own prompt even when an earlier module stored
 * PAM_AUTHTOK, since that is the user's password and must never be sent as
 * a code; use_first_pass takes the stored token only, try_first_pass takes
 * it when there is one. The code is not stored as PAM_AUTHTOK: it is of
 * no use to any other module.
 */
static int get_code(pam_handle_t *pamh, int argc, const char **argv,
		    char **code)
{
	int use_first = has_arg(argc, argv, "use_first_pass");
	const void *stored = NULL;
	int ret;

	*code = NULL;
	if (use_first || has_arg(argc, argv, "try_first_pass")) {
		ret = pam_get_item(pamh, PAM_AUTHTOK, &stored);
		if (ret != PAM_SUCCESS)
			return ret;
		if (stored != NULL) {
			*code = strdup(stored);
			return *code != NULL ? PAM_SUCCESS : PAM_BUF_ERR;
		}
		if (use_first)
			return PAM_AUTH_ERR;
	}
	ret = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, code, "%s", TOTP_PROMPT);
	if (ret == PAM_SUCCESS && *code == NULL)
		ret = PAM_CONV_ERR;
	return ret;
}

/* Wipes and frees a code from get_code. */
static void free_code(char *code)
{
	if (code != NULL) {
		explicit_bzero(code, strlen(code));
		free(code);
	}
}

/* A variable of the PAM environment, "" when unset. */
static const char *env_string(pam_handle_t *pamh, const char *name)
{
	const char *value = pam_getenv(pamh, name);

	return value != NULL ? value : "";
}

/*
 * Whether to try the engine in process; why says what decided. Outside
 * sshd the helper is the default, and in_process on a service's line opts
 * in: the Go runtime's threads never block SIGCHLD, so a host that blocks
 * it on its own thread to hold it until its handler is in place loses it
 * to them, handled as the earlier disposition says. sudo does so around
 * the fork() of its command, and then waits for ever for a command that
 * has already exited. sshd's processes that run PAM block no signal.
 */
static int in_process_wanted(int argc, const char **argv, char *why, size_t len)
{
	char name[16] = "", field[72];
	const char *var;

	if (has_arg(argc, argv, "helper")) {
		snprintf(why, len, "helper argument given");
		return 0;
	}
	if (has_arg(argc, argv, "in_process")) {
		snprintf(why, len, "in_process argument given");
	} else if (prctl(PR_GET_NAME, name) == 0 &&
		   (strcmp(name, "sshd") == 0 || strcmp(name, "sshd-session") == 0)) {
		snprintf(why, len, "process %s", name);
	} else {
		snprintf(why, len, "process %s is not sshd and in_process is not given",
			 log_field(field, sizeof(field), name));
		return 0;
	}
	if ((var = engine_env_var_in(environ)) != NULL) {
		snprintf(why, len, "%s is set in the environment", var);
		return 0;
	}
	if ((var = engine_env_var_in(initial_environ)) != NULL) {
		snprintf(why, len, "%s is set in the environment the process started with", var);
		return 0;
	}
	return 1;
}

/*
 * A login's early work: what the adapter does before it asks for the
 * token, so that the user, once they answered, waits for Vault's answer
 * alone. It decides the path (find_engine, which may load the engine) and
 * then either prepares the login in the engine (begin: the config file,
 * the Vault client, and a connection that the engine opens in the
 * background while the conversation goes on) or starts the helper, which
 * does the same in its own process. Nothing it does needs or sends the
 * token. It runs on the thread that authenticates, before the
 * conversation: done on a thread of its own, the engine's dlopen could be
 * under way when the host forks in its conversation function, and the
 * child then hung on the dynamic loader's lock (docs/bench/levers.md).
 * The early work belongs to the process that did it: a process the host
 * forked during the conversation finds pid not its own and does all of it
 * again itself. What fails is logged after the conversation, where a
 * login without early work logged it.
 */
struct early {
	pid_t pid; /* the process that did it */
	int argc;
	const char **argv;
	char why[160];            /* what decided the path */
	char err[PATH_MAX + 256]; /* a failure to log, "" when none */
	int ret;                  /* PAM_SUCCESS, or the code of that failure */
	struct engine eng;
	unsigned long long handle; /* the engine's login, in process */
	struct helper helper;      /* the helper, on the helper path */
};

/* engine_begin and friends: in_engine's calls into the engine. */
static void engine_begin(void *arg)
{
	struct early *e = arg;

	e->handle = e->eng.begin(e->argc, e->argv);
}

static void engine_cancel(void *arg)
{
	struct early *e = arg;

	e->eng.cancel(e->handle);
}

struct finish_call {
	struct early *e;
	struct pam_vault_request *req;
	struct pam_vault_verdict *out;
};

static void engine_finish(void *arg)
{
	struct finish_call *c = arg;

	c->e->eng.finish(c->e->handle, c->req, c->out);
}

/*
 * Does the early work. Which path the verdict takes is decided as it
 * always was: in_process_wanted, then find_engine, with the signal mask of
 * the thread that authenticates.
 */
static void early_begin(struct early *e, int argc, const char **argv)
{
	int err;

	memset(e, 0, sizeof(*e));
	e->pid = getpid();
	e->argc = argc;
	e->argv = argv;
	e->ret = PAM_SUCCESS;
	e->helper.fd = -1;
	if (in_process_wanted(argc, argv, e->why, sizeof(e->why)))
		e->ret = find_engine(&e->eng, e->why, sizeof(e->why), e->err,
				     sizeof(e->err));
	if (e->ret != PAM_SUCCESS)
		return;
	if (e->eng.begin != NULL) {
		if ((err = in_engine(engine_begin, e)) != 0) {
			snprintf(e->err, sizeof(e->err), "cannot restore the signal mask: %s",
				 strerror(err));
			e->ret = PAM_SERVICE_ERR;
		}
	} else if (helper_start(&e->helper, argc, argv, e->err, sizeof(e->err)) != 0) {
		e->ret = PAM_SERVICE_ERR;
	}
}

/*
 * Returns 0 when the early work is this process's own; -1 when the host
 * forked this process during the conversation, so that the work and its
 * helper are the parent's: the copies of the helper's socket are closed
 * (the parent's helper must see EOF when the parent is done with it, and
 * the parent must see the helper's), and nothing else of it is touched.
 */
static int early_own(struct early *e)
{
	if (e->pid == getpid())
		return 0;
	if (e->helper.fd >= 0)
		close(e->helper.fd);
	e->helper.fd = -1;
	return -1;
}

/* Ends the early work without a verdict: the conversation failed. */
static void early_cancel(pam_handle_t *pamh, struct early *e)
{
	int err;

	if (early_own(e) != 0 || e->ret != PAM_SUCCESS)
		return;
	if (e->eng.cancel != NULL) {
		if ((err = in_engine(engine_cancel, e)) != 0)
			pam_syslog(pamh, LOG_ERR, "cannot restore the signal mask: %s",
				   strerror(err));
	} else {
		helper_cancel(&e->helper);
	}
}

/*
 * Ends the early work with the verdict for req. Returns PAM_SUCCESS when
 * out holds the verdict, else the PAM code of the failure, logged.
 */
static int early_finish(pam_handle_t *pamh, struct early *e, int debug,
			struct pam_vault_request *req,
			struct pam_vault_verdict *out)
{
	int err;

	if (early_own(e) != 0)
		early_begin(e, e->argc, e->argv);
	int in_process = e->eng.finish != NULL;
	if (debug && in_process && e->ret == PAM_SUCCESS)
		pam_syslog(pamh, LOG_DEBUG, "verifying in process (%s)", e->why);
	if (debug && !in_process && e->why[0] != '\0')
		pam_syslog(pamh, LOG_DEBUG, "%s; verifying in a helper process", e->why);
	if (e->err[0] != '\0')
		pam_syslog(pamh, LOG_ERR, "%s", e->err);
	if (e->ret != PAM_SUCCESS)
		return e->ret;
	if (in_process) {
		struct finish_call c = {e, req, out};
		if ((err = in_engine(engine_finish, &c)) != 0) {
			pam_syslog(pamh, LOG_ERR, "cannot restore the signal mask: %s",
				   strerror(err));
			return PAM_SERVICE_ERR;
		}
		return PAM_SUCCESS;
	}
	return helper_finish(pamh, &e->helper, req, out) == 0 ? PAM_SUCCESS : PAM_SERVICE_ERR;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
				   const char **argv)
{
	int debug = has_arg(argc, argv, "debug");
	int totp = has_arg(argc, argv, "totp");
	const char *user = NULL, *authtok = NULL;
	char field[128];
	char *code = NULL;
	struct early early;
	int ret;

	ret = pam_get_user(pamh, &user, NULL);
	if (ret == PAM_CONV_AGAIN)
		return PAM_INCOMPLETE;
	if (ret != PAM_SUCCESS || user == NULL) {
		pam_syslog(pamh, LOG_NOTICE, "cannot determine the user name: %s",
			   pam_strerror(pamh, ret));
		return ret == PAM_SUCCESS ? PAM_USER_UNKNOWN : ret;
	}
	early_begin(&early, argc, argv);
	if (totp) {
		ret = get_code(pamh, argc, argv, &code);
		authtok = code;
	} else {
		/* It honours use_first_pass and try_first_pass itself. */
		ret = pam_get_authtok(pamh, PAM_AUTHTOK, &authtok, NULL);
	}
	if (ret == PAM_CONV_AGAIN) {
		early_cancel(pamh, &early);
		free_code(code);
		return PAM_INCOMPLETE;
	}
	if (ret != PAM_SUCCESS || authtok == NULL) {
		early_cancel(pamh, &early);
		pam_syslog(pamh, LOG_NOTICE, "cannot obtain the %s for %s: %s",
			   totp ? "verification code" : "one-time password",
			   log_field(field, sizeof(field), user), pam_strerror(pamh, ret));
		free_code(code);
		/* pam_get_authtok reports a failed conversation as PAM_AUTHTOK_ERR. */
		if (ret == PAM_AUTHTOK_ERR || ret == PAM_CONV_ERR)
			return PAM_CONV_ERR;
		return ret == PAM_SUCCESS ? PAM_AUTH_ERR : ret;
	}

	struct pam_vault_request req = {
		.argc = argc,
		.argv = argv,
		.user = user,
		.authtok = authtok,
		.rhost = item_string(pamh, PAM_RHOST),
		.service = item_string(pamh, PAM_SERVICE),
		.ssh_connection = env_string(pamh, "SSH_CONNECTION"),
	};
	struct pam_vault_verdict verdict = {.result = PAM_VAULT_SERVICE_ERR};

	if ((ret = early_finish(pamh, &early, debug, &req, &verdict)) != PAM_SUCCESS)
		goto out;
	verdict.message[sizeof(verdict.message) - 1] = '\0';
	verdict.log[sizeof(verdict.log) - 1] = '\0';

	pam_syslog(pamh, log_priority(verdict.result), "%s", verdict.log);
	if (verdict.message[0] != '\0' && !(flags & PAM_SILENT)) {
		int r = pam_error(pamh, "%s", verdict.message);
		if (r != PAM_SUCCESS && debug)
			pam_syslog(pamh, LOG_DEBUG, "cannot show a message: %s",
				   pam_strerror(pamh, r));
	}
	ret = pam_code(verdict.result);
out:
	free_code(code);
	return ret;
}

/*
 * There are no credentials to set; succeeding here is what lets sshd finish
 * a login with pam_vault as the only auth module.
 */
PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc,
			      const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}

/* pam_vault takes no part in account, session or password management. */
PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc,
				const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
				   const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
				    const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}

PAM_EXTERN int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc,
				const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}
