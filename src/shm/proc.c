/* Process liveness and mapping counts from /proc (slow paths only). */
#define _GNU_SOURCE
#include "proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Read /proc/PID/stat: state letter and start time. -1 if unreadable. */
static int read_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, sizeof buf - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: start after the last ')' */
	char *p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return -1;
	p += 2;
	*state = *p;
	/* fields from 3 (state) on; start time is field 22 */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -1;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}

uint64_t ipk__proc_start(pid_t pid)
{
	char state;
	uint64_t start;
	if (pid <= 0 || read_stat(pid, &state, &start) < 0)
		return 0;
	if (state == 'Z' || state == 'X' || state == 'x')
		return 0;
	/* a process started in the first tick of boot would read as 0 */
	return start ? start : 1;
}

bool ipk__proc_alive(pid_t pid, uint64_t start)
{
	if (pid <= 0)
		return false;
	char state;
	uint64_t now;
	if (read_stat(pid, &state, &now) < 0) {
		/* no /proc entry: gone, unless /proc is not there to ask */
		if (access("/proc/self/stat", R_OK) == 0)
			return false;
		return kill(pid, 0) == 0 || errno == EPERM;
	}
	if (state == 'Z' || state == 'X' || state == 'x')
		return false;
	if (now == 0)
		now = 1;
	return start == 0 || now == start;
}

long ipk__proc_count_mappers(dev_t dev, ino_t ino)
{
	DIR *d = opendir("/proc");
	if (d == NULL)
		return -1;
	long count = 0;
	char want[64];
	/* /proc/PID/maps prints the device as major:minor in hex */
	snprintf(want, sizeof want, "%02x:%02x %lu", major(dev), minor(dev),
	         (unsigned long)ino);
	size_t wlen = strlen(want);
	struct dirent *e;
	char *line = NULL;
	size_t cap = 0;
	while ((e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		char path[300];
		snprintf(path, sizeof path, "/proc/%s/maps", e->d_name);
		FILE *f = fopen(path, "re");
		if (f == NULL)
			continue;
		bool found = false;
		while (!found && getline(&line, &cap, f) > 0) {
			/* "start-end perms offset dev inode path": skip three fields */
			char *p = line;
			for (int i = 0; i < 3 && p; i++) {
				p = strchr(p, ' ');
				if (p)
					p++;
			}
			if (p && strncmp(p, want, wlen) == 0 &&
			    (p[wlen] == ' ' || p[wlen] == '\n'))
				found = true;
		}
		fclose(f);
		count += found;
	}
	free(line);
	closedir(d);
	return count;
}
