/*
 * engineload: how long loading pam_vault's Go engine takes, apart from any
 * login. It does what the adapter does on a first login, step by step:
 *
 *   engineload ENGINE_SO
 *
 * dlopen(ENGINE_SO) (which starts the Go runtime's initialisation), then two
 * calls of pam_vault_finish with a request that fails before any file or
 * network use (a relative config= path). Prints, in nanoseconds:
 *
 *   engineload DLOPEN_NS FIRST_CALL_NS SECOND_CALL_NS HWM_BEFORE_KB HWM_AFTER_KB
 *
 * The first call waits for the runtime to finish starting; the second is
 * the cost of a call into Go once it has.
 */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "harness.h"
#include "pam_vault_engine.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s ENGINE_SO\n", argv[0]);
		return 64;
	}
	long before = harness_status_kb("VmHWM");
	long long t0 = harness_now_ns();
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	long long t1 = harness_now_ns();
	if (h == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	pam_vault_finish_fn finish =
		(pam_vault_finish_fn)dlsym(h, PAM_VAULT_FINISH_SYMBOL);
	if (finish == NULL) {
		fprintf(stderr, "dlsym: %s\n", dlerror());
		return 1;
	}
	const char *args[] = {"config=relative.hcl"};
	struct pam_vault_request req = {
		.argc = 1, .argv = args, .user = "nobody", .authtok = "x",
		.rhost = "", .service = "bench", .ssh_connection = "",
	};
	struct pam_vault_verdict v;
	long long t2 = harness_now_ns();
	finish(0, &req, &v);
	long long t3 = harness_now_ns();
	finish(0, &req, &v);
	long long t4 = harness_now_ns();
	if (v.result != PAM_VAULT_SERVICE_ERR) {
		fprintf(stderr, "unexpected verdict %d: %s\n", v.result, v.log);
		return 1;
	}
	printf("engineload %lld %lld %lld %ld %ld\n", t1 - t0, t3 - t2, t4 - t3,
	       before, harness_status_kb("VmHWM"));
	return 0;
}
