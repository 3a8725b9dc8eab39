/*
 * canary is a PAM module with deliberate faults, built with the same
 * sanitizer flags as build/asan/: the sanitizer test runs it through the
 * same pamtester setup as the real module and expects each fault to be
 * reported and to fail the run, which proves that a fault in pam_vault
 * would not go unnoticed. The user name picks the fault:
 *
 *   heap-overflow     writes one byte past a heap block (AddressSanitizer)
 *   signed-overflow   overflows a signed int (UndefinedBehaviorSanitizer)
 *   leak              loses the only pointer to a heap block (LeakSanitizer)
 *
 * Any other user gets PAM_AUTH_ERR and no fault.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_modules.h>

/* Keeps the leaked pointer out of registers the leak check scans. */
static void *volatile sink;

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
				   const char **argv)
{
	const char *user = NULL;

	(void)flags;
	(void)argv;
	if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL)
		return PAM_AUTH_ERR;
	if (strcmp(user, "heap-overflow") == 0) {
		/*
		 * volatile, so that the compiler can neither drop the store
		 * nor see the size (UBSan's object-size check would report
		 * it before AddressSanitizer).
		 */
		volatile size_t n = 8;
		volatile char *p = malloc(n);
		if (p != NULL)
			p[n] = 'x';
		free((void *)p);
	} else if (strcmp(user, "signed-overflow") == 0) {
		volatile int i = INT_MAX;
		i += argc + 1;
	} else if (strcmp(user, "leak") == 0) {
		sink = malloc(64);
		sink = NULL;
	}
	return PAM_AUTH_ERR;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc,
			      const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
