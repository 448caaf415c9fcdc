/*
 * Owner records (src/core/owner.h) are files in /dev/shm, where every user
 * may create names: a record is believed only when nobody but its user
 * could have written it, and it names that user.
 */
#define _GNU_SOURCE
#include "core/owner.h"
#include "core/owner_file.h"

#include <criterion/criterion.h>
#include <ipckit.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(owner_trust, .timeout = 60);

#define KIND "sysvmq"

static void name_for(char *buf, size_t cap, const char *what)
{
	snprintf(buf, cap, "trust-%s-%d", what, (int)getpid());
}

static void record_path(char *buf, size_t cap, const char *name)
{
	cr_assert_eq(ipk__owner_path(buf, cap, KIND, name, geteuid()), 0);
}

/* Our own record of name, instance 42, written the ordinary way. */
static void write_record(const char *name)
{
	ipk__owner_claim cl;
	cr_assert_eq(ipk__owner_lock(&cl, KIND, name), 0);
	cr_assert_eq(ipk__owner_set(&cl, false, 42), 0);
	ipk__owner_unlock(&cl);
}

Test(owner_trust, a_record_others_may_write_is_not_believed)
{
	char name[64], path[320];
	name_for(name, sizeof name, "mode");
	record_path(path, sizeof path, name);
	write_record(name);
	struct ipk__owner o;
	cr_assert_eq(ipk__owner_read(KIND, name, geteuid(), &o), 1);
	cr_expect_eq(ipk__owner_check(KIND, name, geteuid(), 42, NULL),
	             IPK__OWNER_ALIVE);

	cr_assert_eq(chmod(path, 0666), 0);
	cr_expect_eq(ipk__owner_read(KIND, name, geteuid(), &o), 0,
	             "a world-writable record was believed");
	cr_expect_eq(ipk__owner_check(KIND, name, geteuid(), 42, NULL),
	             IPK__OWNER_NONE);
	cr_assert_eq(chmod(path, 0620), 0);
	cr_expect_eq(ipk__owner_read(KIND, name, geteuid(), &o), 0,
	             "a group-writable record was believed");

	/* its own user's listener takes the file back */
	write_record(name);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0644);
	cr_expect_eq(ipk__owner_read(KIND, name, geteuid(), &o), 1);

	ipk__owner_forget(KIND, name, geteuid(), 42);
	cr_expect_neq(access(path, F_OK), 0, "the record was left behind");
}

Test(owner_trust, a_record_naming_another_user_is_not_believed)
{
	char name[64], path[320];
	name_for(name, sizeof name, "uid");
	record_path(path, sizeof path, name);
	struct ipk__owner fake;
	ipk__owner_self(&fake, false, 42);
	fake.uid = geteuid() + 1;
	ipk__owner_claim cl;
	cr_assert_eq(ipk__owner_lock(&cl, KIND, name), 0);
	cr_assert_eq(ipk__owner_write(&cl, &fake), 0);
	ipk__owner_unlock(&cl);

	struct ipk__owner o;
	cr_expect_eq(ipk__owner_read(KIND, name, geteuid(), &o), 0,
	             "a record naming uid %u in a file of uid %u was believed",
	             (unsigned)fake.uid, (unsigned)geteuid());
	cr_expect_eq(ipk__owner_check(KIND, name, geteuid(), 42, NULL),
	             IPK__OWNER_NONE);

	/* a record that says nothing is dropped like a wrong one */
	ipk__owner_forget(KIND, name, geteuid(), 42);
	cr_expect_neq(access(path, F_OK), 0, "the record was left behind");
}

/* The record of a file goes under the file's owner (owner_file.h): a
   listener of another user on it writes none, which nothing would read
   and nothing would remove. */
Test(owner_trust, no_record_under_a_listener_that_does_not_own_the_file)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to give the FIFO to another user");
	char dir[] = "/tmp/ipkt-trust-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char fifo[64], url[96];
	snprintf(fifo, sizeof fifo, "%s/f", dir);
	snprintf(url, sizeof url, "fifo:%s?persist", fifo);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(chown(fifo, 65534, 65534), 0);
	struct stat st;
	cr_assert_eq(stat(fifo, &st), 0);
	char name[48], path[320];
	snprintf(name, sizeof name, "%llx:%llx", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	cr_assert_eq(ipk__owner_path(path, sizeof path, "fifo", name, geteuid()),
	             0);

	ipk_chan *l = NULL;
	cr_assert_eq(ipk_listen(&l, url), 0, "%s", ipk_last_error());
	cr_expect_neq(access(path, F_OK), 0,
	              "a listening root wrote a record for a file of uid 65534");
	ipk_close(l);
	cr_expect_neq(access(path, F_OK), 0,
	              "closing with ?persist left a record nobody reads");

	ipk__owner_forget("fifo", name, geteuid(), IPK__OWNER_PENDING);
	unlink(fifo);
	rmdir(dir);
}
