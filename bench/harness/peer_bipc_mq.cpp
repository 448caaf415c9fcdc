// Boost.Interprocess message_queue, used the way a C++ user does: a named
// queue in shared memory, blocking send() and receive() with copies. Only
// the benchmark program is built with this file (never the ipckit tool),
// and only when a C++ compiler and the Boost headers were found.
#include "peer_bipc.h"

#include <boost/interprocess/ipc/message_queue.hpp>

#include <cerrno>
#include <cstdio>
#include <new>

namespace bip = boost::interprocess;

struct bench_bipc {
	bip::message_queue mq;
	explicit bench_bipc(const char *name) : mq(bip::open_only, name) {}
};

static int failed(const char *what, const std::exception &e, char *err,
                  size_t cap)
{
	std::snprintf(err, cap, "Boost.Interprocess %s: %s", what, e.what());
	return -EIO;
}

int bench_bipc_create(const char *name, size_t depth, size_t size, char *err,
                      size_t cap)
{
	try {
		bip::message_queue mq(bip::create_only, name, depth, size);
		return 0; // the queue outlives this handle until it is removed
	} catch (const std::exception &e) {
		return failed("create", e, err, cap);
	}
}

int bench_bipc_open(bench_bipc **q, const char *name, char *err, size_t cap)
{
	try {
		*q = new bench_bipc(name);
		return 0;
	} catch (const std::exception &e) {
		*q = nullptr;
		return failed("open", e, err, cap);
	}
}

int bench_bipc_send(bench_bipc *q, const void *buf, size_t len, char *err,
                    size_t cap)
{
	try {
		q->mq.send(buf, len, 0);
		return 0;
	} catch (const std::exception &e) {
		return failed("send", e, err, cap);
	}
}

ssize_t bench_bipc_recv(bench_bipc *q, void *buf, size_t len, char *err,
                        size_t cap)
{
	try {
		bip::message_queue::size_type got = 0;
		unsigned prio = 0;
		q->mq.receive(buf, len, got, prio);
		return static_cast<ssize_t>(got);
	} catch (const std::exception &e) {
		return failed("receive", e, err, cap);
	}
}

void bench_bipc_close(bench_bipc *q)
{
	delete q;
}

void bench_bipc_remove(const char *name)
{
	try {
		bip::message_queue::remove(name);
	} catch (...) {
	}
}
