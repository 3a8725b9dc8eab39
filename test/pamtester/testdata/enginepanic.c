/*
 * enginepanic calls the engine's pam_vault_finish the way the adapter does,
 * but with a NULL request, so that the Go side panics on its first read.
 * The panic must stop at the exported boundary: this C process must go on,
 * holding a PAM_SERVICE_ERR verdict.
 *
 *   enginepanic ENGINE_PATH
 */
#include <dlfcn.h>
#include <stdio.h>

#include "../../../cgo/pam_vault_engine.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s ENGINE_PATH\n", argv[0]);
		return 64;
	}
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	pam_vault_finish_fn finish = (pam_vault_finish_fn)dlsym(h, PAM_VAULT_FINISH_SYMBOL);
	if (finish == NULL) {
		fprintf(stderr, "dlsym: %s\n", dlerror());
		return 1;
	}
	struct pam_vault_verdict verdict = {.result = -1};
	finish(0, NULL, &verdict);
	printf("result %d\nlog %s\n", verdict.result, verdict.log);
	printf("still running\n");
	return 0;
}
