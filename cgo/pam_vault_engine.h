/*
 * pam_vault_engine.h: the interface between the PAM adapter (pam_vault.so)
 * and the Go engine (pam_vault_go.so). The adapter resolves both symbols
 * with dlsym; nothing here is part of PAM's interface.
 */
#ifndef PAM_VAULT_ENGINE_H
#define PAM_VAULT_ENGINE_H

#include <sys/types.h>

/* File name of the engine, looked up beside pam_vault.so. */
#define PAM_VAULT_ENGINE_FILE "pam_vault_go.so"

/* Symbols the engine exports. */
#define PAM_VAULT_BEGIN_SYMBOL "pam_vault_begin"
#define PAM_VAULT_FINISH_SYMBOL "pam_vault_finish"
#define PAM_VAULT_CANCEL_SYMBOL "pam_vault_cancel"
#define PAM_VAULT_LOADER_SYMBOL "pam_vault_loader_pid"

/*
 * Verdict results. internal/engine defines the same values, and the sizes
 * and limits below; pam_vault/main.go fails to compile if they disagree.
 */
enum pam_vault_result {
	PAM_VAULT_SUCCESS = 0,     /* PAM_SUCCESS */
	PAM_VAULT_AUTH_ERR = 1,    /* PAM_AUTH_ERR */
	PAM_VAULT_UNAVAILABLE = 2, /* PAM_AUTHINFO_UNAVAIL */
	PAM_VAULT_SERVICE_ERR = 3, /* PAM_SERVICE_ERR */
	PAM_VAULT_IGNORE = 4       /* PAM_IGNORE: TOTP mode, nullok, no key */
};

/* The highest result, for the checks of the helper's answer. */
#define PAM_VAULT_RESULT_MAX PAM_VAULT_IGNORE

/* Sizes of the verdict's strings, terminating NUL included. */
#define PAM_VAULT_MESSAGE_SIZE 256
#define PAM_VAULT_LOG_SIZE 1024

/* The largest request on the helper's wire, in bytes. */
#define PAM_VAULT_REQUEST_MAX (64 * 1024)

/*
 * The helper's request carries the number of module arguments in decimal,
 * the arguments, then the strings of struct pam_vault_request from user to
 * ssh_connection, in that order (internal/engine/wire.go).
 */
#define PAM_VAULT_REQUEST_FIELDS 5

/* The longest timeout a config file may set, in seconds. */
#define PAM_VAULT_MAX_TIMEOUT_S 30

struct pam_vault_request {
	int argc;
	const char **argv; /* the module's arguments */
	const char *user;
	const char *authtok;
	const char *rhost;   /* "" when unset */
	const char *service; /* "" when unset */
	/* SSH_CONNECTION from the PAM environment (sshd sets it); "" when unset */
	const char *ssh_connection;
};

struct pam_vault_verdict {
	int result; /* enum pam_vault_result */
	char message[PAM_VAULT_MESSAGE_SIZE];
	char log[PAM_VAULT_LOG_SIZE];
};

/*
 * A login in three calls. begin starts, from the module's arguments alone,
 * what does not need the token (the config file, the Vault client, the
 * connection) while the user is asked for it; finish gives the verdict for
 * the request on the login begin returned, and cancel ends that login
 * without one. Each handle is ended by exactly one finish or cancel.
 * finish with handle 0 decides from the request alone.
 */
typedef unsigned long long (*pam_vault_begin_fn)(int argc, const char **argv);
typedef void (*pam_vault_finish_fn)(unsigned long long handle,
				    struct pam_vault_request *,
				    struct pam_vault_verdict *);
typedef void (*pam_vault_cancel_fn)(unsigned long long handle);

#endif
