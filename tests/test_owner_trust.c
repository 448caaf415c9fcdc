/*
 * Owner records (src/core/owner.h) are files in /dev/shm, where every user
 * may create names: a record is believed only when nobody but its user
 * could have written it, and it names that user.
 */
#define _GNU_SOURCE
#include "core/owner.h"
#include "core/owner_file.h"

#include <criterion/criterion.h>
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
