/*
 * replay-<target>: runs inputs once each through a fuzz target, without a
 * fuzzing engine, so that corpora and regression inputs are tests in every
 * build (sanitizers, valgrind, coverage).
 *
 * Arguments are files or directories; a directory stands for every regular
 * file in it, in name order, except dotfiles and README*. A target that
 * defines LLVMFuzzerInitialize gets it called first, as under libFuzzer.
 * Exit 0 when every input ran; 2 for a path that cannot be read. A broken
 * invariant aborts in the target itself.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EXIT_USAGE 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char *prog;
static unsigned long ran;

static _Noreturn void die(const char *path, const char *what, int err)
{
	fprintf(stderr, "%s: %s '%s': %s\n"
		"  arguments are input files or directories of them\n",
		prog, what, path, strerror(err));
	exit(EXIT_USAGE);
}

static void *must_alloc(size_t size)
{
	void *p = malloc(size > 0 ? size : 1);

	if (p == NULL) {
		fprintf(stderr, "%s: out of memory for %zu bytes\n", prog, size);
		exit(EXIT_USAGE);
	}
	return p;
}

/* The input gets a buffer of exactly its size, so that a target reading
 * past the end is caught by the sanitizers and valgrind. */
static void run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *data;
	size_t size;

	if (f == NULL)
		die(path, "cannot open", errno);
	if (fstat(fileno(f), &st) != 0)
		die(path, "cannot stat", errno);
	size = (size_t)st.st_size;
	data = must_alloc(size);
	if (fread(data, 1, size, f) != size || ferror(f))
		die(path, "cannot read all of", ferror(f) ? errno : EIO);
	fclose(f);
	fprintf(stderr, "replay: %s\n", path);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	ran++;
}

static int is_input_name(const char *name)
{
	return name[0] != '.' && strncmp(name, "README", 6) != 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name)
{
	size_t dir_len = strlen(dir);
	const char *sep = dir_len > 0 && dir[dir_len - 1] == '/' ? "" : "/";
	size_t n = dir_len + 1 + strlen(name) + 1;
	char *path = must_alloc(n);

	snprintf(path, n, "%s%s%s", dir, sep, name);
	return path;
}

/* Every regular input file of dir, sorted; *n says how many. */
static char **list_dir(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	char **paths = NULL;
	size_t cap = 0;
	struct dirent *e;
	struct stat st;

	if (d == NULL)
		die(dir, "cannot open directory", errno);
	*n = 0;
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (!is_input_name(e->d_name))
			continue;
		char *path = join(dir, e->d_name);
		if (stat(path, &st) != 0)
			die(path, "cannot stat", errno);
		if (!S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			paths = realloc(paths, cap * sizeof *paths);
			if (paths == NULL)
				die(dir, "out of memory listing", ENOMEM);
		}
		paths[(*n)++] = path;
	}
	if (errno != 0)
		die(dir, "cannot list", errno);
	closedir(d);
	if (*n > 0)
		qsort(paths, *n, sizeof *paths, by_name);
	return paths;
}

static void run_dir(const char *dir)
{
	size_t n;
	char **paths = list_dir(dir, &n);

	for (size_t i = 0; i < n; i++) {
		run_file(paths[i]);
		free(paths[i]);
	}
	free(paths);
}

int main(int argc, char **argv)
{
	const char *slash = strrchr(argv[0], '/');
	struct stat st;

	prog = slash ? slash + 1 : argv[0];
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n"
			"runs each input once through the fuzz target\n", prog);
		return EXIT_USAGE;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &st) != 0)
			die(argv[i], "cannot find", errno);
		if (S_ISDIR(st.st_mode))
			run_dir(argv[i]);
		else
			run_file(argv[i]);
	}
	/* "ran", not "clean": under valgrind an input can corrupt memory and
	 * still return; the tool's exit status gives the verdict. */
	fprintf(stderr, "%s: ran %lu input%s to completion\n", prog, ran,
		ran == 1 ? "" : "s");
	return 0;
}
