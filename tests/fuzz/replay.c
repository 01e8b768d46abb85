/*
 * replay.c: run a fuzz target over files, without libFuzzer, as TAP.
 *
 *	replay [DIR | FILE] ...
 *
 * Every regular file (directories are read one level deep, in name order)
 * is one test: it runs in a child process, so an abort(), a sanitizer
 * report or a hang (REPLAY_TIMEOUT seconds) is one "not ok" line naming
 * the file, and the other files still run.  Without arguments it replays
 * every seed corpus, $top_srcdir/tests/fuzz/corpus/{config,strip,proxy,
 * stamp,metrics}, so each target also meets the others' inputs.
 */

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

/* Longer than any input may take; an input that does is a hang. */
#define REPLAY_TIMEOUT	60

static unsigned int	replay_n;	/* tests run */
static unsigned int	replay_failed;

/* Read a whole file into an allocation of exactly its size (plus 1). */
static uint8_t *
replay_read(const char *path, size_t *lenp)
{
	struct stat	 st;
	uint8_t		*buf;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return (NULL);
	if (fstat(fd, &st) == -1 || (buf = malloc(st.st_size + 1)) == NULL) {
		close(fd);
		return (NULL);
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	close(fd);
	*lenp = off;
	return (buf);
}

/* Feed one file to the target in a child; print its TAP line. */
static void
replay_file(const char *path)
{
	uint8_t		*data;
	size_t		 len;
	pid_t		 pid;
	int		 status;

	replay_n++;
	if ((data = replay_read(path, &len)) == NULL) {
		printf("not ok %u - %s: %s\n", replay_n, path,
		    strerror(errno));
		replay_failed++;
		return;
	}
	/* Nothing buffered may be written twice, by parent and child. */
	fflush(stdout);
	if ((pid = fork()) == -1) {
		printf("not ok %u - %s: fork: %s\n", replay_n, path,
		    strerror(errno));
		replay_failed++;
		free(data);
		return;
	}
	if (pid == 0) {
		alarm(REPLAY_TIMEOUT);
		LLVMFuzzerTestOneInput(data, len);
		free(data);
		exit(0);
	}
	free(data);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		printf("ok %u - %s\n", replay_n, path);
	else {
		replay_failed++;
		if (status != -1 && WIFSIGNALED(status))
			printf("not ok %u - %s: %s\n", replay_n, path,
			    strsignal(WTERMSIG(status)));
		else
			printf("not ok %u - %s: exit status %d\n", replay_n,
			    path, status == -1 ? -1 : WEXITSTATUS(status));
	}
}

/* Replay path: a file, or every regular file of a directory by name. */
static void
replay_path(const char *path)
{
	struct dirent	**ents;
	struct stat	  st;
	char		  file[PATH_MAX];
	int		  i, n;

	if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	if ((n = scandir(path, &ents, NULL, alphasort)) == -1) {
		printf("not ok %u - %s: %s\n", ++replay_n, path,
		    strerror(errno));
		replay_failed++;
		return;
	}
	for (i = 0; i < n; i++) {
		snprintf(file, sizeof(file), "%s/%s", path, ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && stat(file, &st) == 0 &&
		    S_ISREG(st.st_mode))
			replay_file(file);
		free(ents[i]);
	}
	free(ents);
}

int
main(int argc, char *argv[])
{
	static const char *const corpora[] = { "config", "strip", "proxy",
	    "stamp", "metrics" };
	const char	*top;
	char		 dir[PATH_MAX];
	size_t		 c;
	int		 i;

	if (argc > 1)
		for (i = 1; i < argc; i++)
			replay_path(argv[i]);
	else {
		if ((top = getenv("top_srcdir")) == NULL)
			top = ".";
		for (c = 0; c < sizeof(corpora) / sizeof(corpora[0]); c++) {
			snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s",
			    top, corpora[c]);
			replay_path(dir);
		}
	}
	printf("1..%u\n", replay_n);
	return (replay_failed > 0);
}
