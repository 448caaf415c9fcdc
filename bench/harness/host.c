/* What machine the figures come from, for every report. */
#define _GNU_SOURCE
#include "bench.h"

#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

void bench_host_info(struct bench_host *h)
{
	memset(h, 0, sizeof *h);
	struct utsname u;
	if (uname(&u) == 0) {
		snprintf(h->kernel, sizeof h->kernel, "%s %s", u.sysname, u.release);
		snprintf(h->machine, sizeof h->machine, "%s", u.machine);
	}
	h->cpus = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(h->cpu, sizeof h->cpu, "unknown CPU");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[256];
		while (fgets(line, sizeof line, f)) {
			char *c = strchr(line, ':');
			if (c && strncmp(line, "model name", 10) == 0) {
				c += 1 + strspn(c + 1, " \t");
				c[strcspn(c, "\n")] = '\0';
				snprintf(h->cpu, sizeof h->cpu, "%s", c);
				break;
			}
		}
		fclose(f);
	}
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(h->started, sizeof h->started, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
