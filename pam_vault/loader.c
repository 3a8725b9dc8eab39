/*
 * The record of which process loaded the engine. It is set by a constructor,
 * before the Go runtime can be asked to do anything, and read by the adapter
 * with dlsym, without calling into Go: in a process forked after the Go
 * runtime started, any call into Go can hang forever.
 */
#include <unistd.h>

pid_t pam_vault_loader_pid;

__attribute__((constructor)) static void record_loader(void)
{
	pam_vault_loader_pid = getpid();
}
