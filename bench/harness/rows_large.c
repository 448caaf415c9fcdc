/*
 * The large-message family: the same transport at 64 B and at 16 MiB, in
 * rows of their own whatever --sizes says, and the 16 MiB round trip as a
 * multiple of the 64 B one ("flat in size" is close to 1x). Every copy a
 * message takes grows with its size: the copying transports here are what
 * a hand-off that does not copy (a sealed memfd passed over unix:) is
 * measured against. The fd-passing row beside them hands each message
 * on as a sealed memfd (unix: ?large) and receives it in place: its
 * driver (bench_ipk_lend_driver) peeks, and sends on what it received, as
 * a relay does; neither side touches the payload.
 */
#define _GNU_SOURCE
#include "rows.h"

static const size_t large_sizes[] = {64, (size_t)16 << 20, 0};

static const struct bench_row rows[] = {
	IPK_ROW("unix-large", "unix", "unix: copying", .topo = BENCH_SERVER,
	        .listen = "unix:@{name}", .dial = "unix:@{name}", .lat = true,
	        .thr = true, .sizes = large_sizes, .size_ratio = true),
	/* (IPK_ROW with the zero-copy driver) */
	{.id = "unix-fd", .kind = BENCH_IPCKIT, .scheme = "unix",
	 .label = "unix: fd passing", .drv = &bench_ipk_lend_driver,
	 .available = true, .topo = BENCH_SERVER,
	 .listen = "unix:@{name}?large=64K", .dial = "unix:@{name}?large=64K",
	 .lat = true, .thr = true, .sizes = large_sizes, .size_ratio = true},
	IPK_ROW("shm-large", "shm", "shm: copying", .topo = BENCH_MAILBOX,
	        .listen = "shm:/{name}?size={ring}", .dial = "shm:/{name}",
	        .lat = true, .thr = true, .sizes = large_sizes, .size_ratio = true),
};

const struct bench_family bench_family_large = {
	.id = "large",
	.title = "large messages: 16 MiB against 64 B on one transport",
	.rows = rows,
	.nrows = sizeof rows / sizeof rows[0],
};
