/*
 * The inventory API (ipk_objects_*, ipk_object_remove, ipk_remove's checks)
 * on objects this test makes in the machine's /dev/shm and removes again.
 * The exact-set and gc tests live in test_inventory.sh (private namespaces).
 */
#define _GNU_SOURCE
#include "shm/bcast.h"
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The record of address in a fresh scan of kind (copied out), or false. */
static bool find(const char *kind, const char *address, ipk_object *out,
                 char *why, size_t cap)
{
	ipk_objscan_opts o = {.kind = kind};
	ipk_objscan *s;
	cr_assert_eq(ipk_objects_open(&s, &o), 0, "%s", ipk_last_error());
	const ipk_object *p;
	bool found = false;
	while ((p = ipk_objects_next(s)) != NULL)
		if (strcmp(p->address, address) == 0) {
			*out = *p;
			snprintf(why, cap, "%s|%s", p->detail, p->why);
			found = true;
		}
	ipk_objects_close(s);
	return found;
}

Test(objects, arguments_are_checked)
{
	ipk_objscan *s;
	ipk_objscan_opts bad = {.kind = "nonsense"};
	cr_expect_eq(ipk_objects_open(&s, &bad), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "unknown kind") != NULL);
	ipk_objscan_opts flags = {.flags = 8};
	cr_expect_eq(ipk_objects_open(&s, &flags), -EINVAL);
	cr_expect_eq(ipk_object_remove(NULL, 0), -EINVAL);
	cr_expect_eq(ipk_remove_flags("fifo:/nonexistent", 0x40), -EINVAL);
	cr_expect_str_eq(ipk_objstate_name(IPK_OBJ_ORPHAN), "orphan");
	cr_expect_str_eq(ipk_objstate_name(IPK_OBJ_PERM0), "permission-0");
	/* a NULL options pointer lists every kind */
	cr_assert_eq(ipk_objects_open(&s, NULL), 0);
	ipk_objects_close(s);
	ipk_objects_close(NULL);
}

/* A live ring is listed with its consumer, refused by ipk_remove and by
   ipk_object_remove, and removed when forced. */
Test(objects, live_ring_is_kept_unless_forced)
{
	char url[300];
	snprintf(url, sizeof url, "shm:%s", ipkt_name("inv"));
	ipk_chan *l;
	cr_assert_eq(ipk_listen(&l, url), 0, "%s", ipk_last_error());
	ipk_object o;
	char why[300];
	cr_assert(find("shm", url, &o, why, sizeof why), "%s not listed", url);
	cr_expect_eq(o.state, IPK_OBJ_LIVE, "%s", why);
	cr_expect_eq(o.consumers, 1);
	cr_expect_eq(o.last.pid, getpid());
	cr_expect_eq(o.last.state, IPK_PID_ALIVE);

	ipk_objscan *s;
	ipk_objscan_opts k = {.kind = "shm"};
	cr_assert_eq(ipk_objects_open(&s, &k), 0);
	const ipk_object *p;
	while ((p = ipk_objects_next(s)) != NULL)
		if (strcmp(p->address, url) == 0)
			cr_expect_eq(ipk_object_remove(p, 0), -EBUSY);
	ipk_objects_close(s);

	cr_expect_eq(ipk_remove(url), -EBUSY);
	char pid[32];
	snprintf(pid, sizeof pid, "pid %d", (int)getpid());
	cr_expect(strstr(ipk_last_error(), pid) != NULL, "%s", ipk_last_error());
	cr_expect_eq(ipk_remove_flags(url, IPK_REMOVE_FORCE), 0, "%s",
	             ipk_last_error());
	cr_expect(!find("shm", url, &o, why, sizeof why));
	ipk_close(l);
}

/* Regions that hold no ring are named with ?region; a broadcast ring
   (publish/subscribe) is recognised by its header and is an ipckit object
   its own address removes. */
Test(objects, plain_and_broadcast_regions)
{
	const char *name = ipkt_name("bc");
	size_t size = 1 << 20;
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert(mem != MAP_FAILED);
	char plain[300], region[300];
	snprintf(plain, sizeof plain, "shm:%s", name);
	snprintf(region, sizeof region, "shm:%s?region", name);

	ipk_object o;
	char why[300];
	cr_assert(find("shm", region, &o, why, sizeof why), "%s not listed",
	          region);
	cr_expect(strncmp(why, "region", 6) == 0, "%s", why);
	cr_expect_eq(o.state, IPK_OBJ_LIVE, "we map it: %s", why);
	/* shm: without ?region removes rings only */
	cr_expect_eq(ipk_remove(plain), -EINVAL);
	cr_expect(strstr(ipk_last_error(), "?region") != NULL, "%s",
	          ipk_last_error());

	struct ipk__bcast_fmt f = {0};
	cr_assert_eq(ipk__bcast_format(mem, size, &f), 0, "%s", ipk_last_error());
	cr_assert(find("shm", plain, &o, why, sizeof why), "%s not listed",
	          plain);
	cr_expect(strncmp(why, "broadcast ring|", 15) == 0, "%s", why);
	cr_expect_eq(o.state, IPK_OBJ_LIVE, "we map it: %s", why);
	munmap(mem, size);

	cr_expect_eq(ipk_remove(plain), 0, "%s", ipk_last_error());
	cr_expect_eq(ipk_remove(plain), -ENOENT);
	cr_expect_eq(ipk_remove(region), -ENOENT);
}
