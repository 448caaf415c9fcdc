/*
 * Writing rows: what the row tables of every family (rows_*.c) share.
 * A family is one table of rows and one line in rows.c; docs/bench.md
 * ("Adding a row family") says how to add one.
 */
#ifndef IPK_BENCH_ROWS_H
#define IPK_BENCH_ROWS_H

#include "bench.h"

/* Peer drivers exist when their library was found at build time. */
#ifdef IPK_BENCH_NNG
#define NNG_DRV(d) &(d)
#define NNG_OK true
#else
#define NNG_DRV(d) NULL
#define NNG_OK false
#endif
#define NNG_MISSING "nng was not found when ipckit was built"
#ifdef IPK_BENCH_ZMQ
#define ZMQ_DRV(d) &(d)
#define ZMQ_OK true
#else
#define ZMQ_DRV(d) NULL
#define ZMQ_OK false
#endif
#define ZMQ_MISSING "libzmq was not found when ipckit was built"
#ifdef IPK_BENCH_BIPC
#define BIPC_DRV(d) &(d)
#define BIPC_OK true
#else
#define BIPC_DRV(d) NULL
#define BIPC_OK false
#endif
#define BIPC_MISSING                                                          \
	"a C++ compiler or Boost.Interprocess (libboost-dev) was not found "      \
	"when ipckit was built"

/* The ipckit row of a scheme: id and scheme alike, PAIR ping-pong and
   stream, compared with its raw baseline. */
#define IPK(id_, topo_, listen_, dial_, waits_, limit_, base_)               \
	{.id = id_, .kind = BENCH_IPCKIT, .scheme = id_, .label = id_ ":",        \
	 .topo = topo_, .listen = listen_, .dial = dial_, .waits = waits_,        \
	 .lat = true, .thr = true, .limit = limit_, .drv = &bench_ipk_driver,     \
	 .baseline = base_, .available = true}

/* Any other ipckit row, through the public API like the others; the rest
   of the row as designated initialisers (.topo, .listen, .dial, .lat,
   .thr, .sizes, .size_ratio ...). */
#define IPK_ROW(id_, scheme_, label_, ...)                                    \
	{.id = id_, .kind = BENCH_IPCKIT, .scheme = scheme_, .label = label_,     \
	 .drv = &bench_ipk_driver, .available = true, __VA_ARGS__}

#define RAW(id_, scheme_, label_, drv_, limit_)                               \
	{.id = id_, .kind = BENCH_RAW, .scheme = scheme_, .label = label_,        \
	 .lat = true, .thr = true, .limit = limit_, .drv = drv_,                  \
	 .available = true}

/* A library users would otherwise pick: ok says whether it was built,
   missing why not; versus lists the series it is compared with. */
#define PEER(id_, scheme_, label_, drv_, ok_, missing_, versus_, ...)         \
	{.id = id_, .kind = BENCH_PEER, .scheme = scheme_, .label = label_,       \
	 .drv = drv_, .available = ok_, .missing = missing_, .versus = versus_,  \
	 __VA_ARGS__}

#endif
