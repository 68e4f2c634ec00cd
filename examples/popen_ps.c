/*
 * Running `ps -ef` and reading its output.
 *
 * popen(3) hands a command line to /bin/sh, gives back one stream, and
 * leaves the rest to the caller: checking that it started, keeping buffers
 * in bounds, reading stderr too, and pclose()'s exit status. ipc_run does
 * all of it in one call: the program is an argv (no shell parses it), stdout
 * and stderr are both collected (up to a cap), a timeout kills a program
 * that hangs, and the result says how the program ended. A program that
 * cannot start is a status with the reason, not a NULL stream to trip on.
 *
 * Run: example-popen
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/popen.h"

#define PS_TIMEOUT_MS 10000

/* Is this line of `ps -ef` (UID PID PPID ...) about process `pid`? */
static int line_is_process(const char *line, long pid)
{
	char uid[64];
	long line_pid;

	return sscanf(line, "%63s %ld", uid, &line_pid) == 2 && line_pid == pid;
}

int main(void)
{
	char *argv[] = {"ps", "-ef", NULL};
	struct ipc_run_opts opts = {.timeout_ms = PS_TIMEOUT_MS};
	struct ipc_run_result r;
	char how[256];
	int processes = 0, found_self = 0;

	ipc_run(argv, &opts, &r);
	/* One line, whatever happened: "ps: exited with code 0", or why not. */
	printf("%s\n", ipc_run_describe(&r, how, sizeof how));
	if (r.status != IPC_RUN_OK || r.exit.kind != IPC_EXIT_CODE || r.exit.value != 0) {
		fprintf(stderr, "ps did not succeed; its stderr said: %s\n", r.err.data);
		ipc_run_result_free(&r);
		return 1;
	}

	/* The output is one NUL-terminated buffer of r.out.len bytes. */
	for (char *line = strtok(r.out.data, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		if (processes == 0)
			printf("header: %s\n", line);
		else if (line_is_process(line, (long)getpid()))
			found_self = 1;
		processes++;
	}
	processes--; /* the header is not a process */
	printf("ps listed %d processes%s\n", processes,
	       found_self ? ", this one among them" : "");
	ipc_run_result_free(&r);
	return found_self ? 0 : 1;
}
