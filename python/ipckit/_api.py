"""Every public C function of libipckit, as the Python package binds it.

One row per function declared in include/ipckit.h:

    ("ipk_name", restype, [argtypes...], "python.counterpart")

restype/argtypes are the ctypes prototype (checked against the header by
python/tests/test_coverage.py: same number of arguments, same sizes and
signedness), and the counterpart is the dotted name, inside the ipckit
package, of the Python function, method or property that calls it (the test
checks that it exists and that its source mentions the C name).

A C function that Python should not have goes into LEFT_OUT with the reason.
"""
from ctypes import (POINTER, c_char_p, c_int, c_int64, c_size_t,
                    c_ssize_t, c_uint, c_void_p)

from ._types import (chan_p, flock_p, iovec_p, limit_p, msginfo_p,
                     object_p, objscan_opts_p, objscan_p, pollitem_p,
                     queue_info_p, region_p, regioninfo_p, ringinfo_p, sem_p,
                     semop_p, spawn_opts_p)

c_pid_t = c_int
c_off_t = c_int64

PROTOTYPES = [
    # errors and the library
    ("ipk_version", c_char_p, [], "version"),
    ("ipk_strerror", c_char_p, [c_int], "strerror"),
    ("ipk_last_error", c_char_p, [], "last_error"),
    ("ipk_set_warn_handler", None, [c_void_p, c_void_p], "set_warn_handler"),
    # channels
    ("ipk_listen", c_int, [POINTER(chan_p), c_char_p], "listen"),
    ("ipk_dial", c_int, [POINTER(chan_p), c_char_p, c_int], "dial"),
    ("ipk_accept", c_int, [chan_p, POINTER(chan_p), c_int], "Channel.accept"),
    ("ipk_pair", c_int, [c_char_p, POINTER(chan_p), POINTER(chan_p)], "pair"),
    ("ipk_spawn", c_int, [POINTER(chan_p), POINTER(c_char_p), spawn_opts_p],
     "spawn"),
    ("ipk_pid", c_pid_t, [chan_p], "Channel.pid"),
    ("ipk_wait", c_int, [chan_p, POINTER(c_int), c_int], "Channel.wait"),
    ("ipk_shutdown", c_int, [chan_p], "Channel.shutdown"),
    ("ipk_send", c_ssize_t, [chan_p, c_void_p, c_size_t, c_int],
     "Channel.send"),
    ("ipk_recv", c_ssize_t, [chan_p, c_void_p, c_size_t, c_int],
     "Channel.recv_into"),
    ("ipk_sendmsg", c_ssize_t, [chan_p, c_void_p, c_size_t, msginfo_p, c_int],
     "Channel.send"),
    ("ipk_recvmsg", c_ssize_t, [chan_p, c_void_p, c_size_t, msginfo_p, c_int],
     "Channel.recvmsg"),
    ("ipk_recv_alloc", c_ssize_t, [chan_p, POINTER(c_void_p), msginfo_p,
                                   c_int], "Channel._recv_alloc"),
    ("ipk_send_many", c_ssize_t, [chan_p, iovec_p, c_size_t, c_int],
     "Channel.send_many"),
    ("ipk_flush", c_int, [chan_p, c_int], "Channel.flush"),
    ("ipk_send_fds", c_ssize_t, [chan_p, c_void_p, c_size_t, POINTER(c_int),
                                 c_size_t, c_int], "Channel.send_fds"),
    ("ipk_recv_fds", c_ssize_t, [chan_p, c_void_p, c_size_t, POINTER(c_int),
                                 POINTER(c_size_t), c_int], "Channel.recv_fds"),
    ("ipk_fd", c_int, [chan_p], "Channel.fileno"),
    ("ipk_poll", c_int, [pollitem_p, c_size_t, c_int], "poll"),
    ("ipk_maxmsg", c_size_t, [chan_p], "Channel.maxmsg"),
    ("ipk_address", c_ssize_t, [chan_p, c_char_p, c_size_t],
     "Channel.address"),
    ("ipk_close", c_int, [chan_p], "Channel.close"),
    ("ipk_remove", c_int, [c_char_p], "remove"),
    ("ipk_remove_flags", c_int, [c_char_p, c_int], "remove"),
    ("ipk_schemes", POINTER(c_char_p), [], "schemes"),
    ("ipk_scheme_built", c_int, [c_char_p], "scheme_built"),
    ("ipk_scheme_summary", c_char_p, [c_char_p], "scheme_summary"),
    # queues and signals
    ("ipk_queue_status", c_int, [chan_p, queue_info_p],
     "Channel.queue_status"),
    ("ipk_queue_stat", c_int, [c_char_p, queue_info_p], "queue_stat"),
    ("ipk_signal_block", c_int, [c_char_p], "signal_block"),
    # regions
    ("ipk_region_open", c_int, [POINTER(region_p), c_char_p, c_size_t, c_int],
     "Region.open"),
    ("ipk_region_anon", c_int, [POINTER(region_p), c_size_t],
     "Region.anonymous"),
    ("ipk_region_addr", c_void_p, [region_p], "Region._map"),
    ("ipk_region_size", c_size_t, [region_p], "Region._map"),
    ("ipk_region_info", c_int, [region_p, regioninfo_p], "Region.info"),
    ("ipk_region_stat", c_int, [c_char_p, regioninfo_p], "region_stat"),
    ("ipk_region_detach", c_int, [region_p], "Region.detach"),
    ("ipk_region_remove", c_int, [region_p], "Region.remove"),
    # rings: zero copy
    ("ipk_send_borrow", c_ssize_t, [chan_p, POINTER(c_void_p), c_size_t,
                                    c_int], "Channel.borrow"),
    ("ipk_send_commit", c_ssize_t, [chan_p, c_size_t], "Loan.commit"),
    ("ipk_send_abort", c_int, [chan_p], "Loan.abort"),
    ("ipk_recv_peek", c_ssize_t, [chan_p, POINTER(c_void_p), c_int],
     "Channel.recv"),
    ("ipk_recv_peekmsg", c_ssize_t, [chan_p, POINTER(c_void_p), msginfo_p,
                                     c_int], "Channel.recv_view"),
    ("ipk_recv_release", c_int, [chan_p], "zerocopy.settle_rx"),
    ("ipk_ring_info", c_int, [chan_p, ringinfo_p], "Channel.ring_info"),
    # publish/subscribe
    ("ipk_subscribe", c_int, [chan_p, c_char_p, c_size_t],
     "Channel.subscribe"),
    ("ipk_unsubscribe", c_int, [chan_p, c_char_p, c_size_t],
     "Channel.unsubscribe"),
    ("ipk_subscribers", c_int, [chan_p], "Channel.subscribers"),
    # synchronisation
    ("ipk_sync_remove", c_int, [c_char_p], "sync_remove"),
    ("ipk_sem_open", c_int, [POINTER(sem_p), c_char_p, c_int, c_int],
     "Semaphore.open"),
    ("ipk_sem_created", c_int, [sem_p], "Semaphore.created"),
    ("ipk_sem_wait", c_int, [sem_p, c_int], "Semaphore.acquire"),
    ("ipk_sem_trywait", c_int, [sem_p], "Semaphore.trywait"),
    ("ipk_sem_post", c_int, [sem_p], "Semaphore.release"),
    ("ipk_sem_value", c_int, [sem_p], "Semaphore.value"),
    ("ipk_sem_unlink", c_int, [sem_p], "Semaphore.unlink"),
    ("ipk_sem_close", c_int, [sem_p], "Semaphore.close"),
    ("ipk_sem_init_at", c_int, [POINTER(sem_p), c_void_p, c_int],
     "Semaphore.init_at"),
    ("ipk_sem_attach_at", c_int, [POINTER(sem_p), c_void_p],
     "Semaphore.attach_at"),
    ("ipk_semset_op", c_int, [sem_p, semop_p, c_size_t, c_int],
     "Semaphore.op"),
    ("ipk_semset_count", c_int, [sem_p], "Semaphore.count"),
    ("ipk_semset_get", c_int, [sem_p, c_uint], "Semaphore.get"),
    ("ipk_semset_set", c_int, [sem_p, c_uint, c_int], "Semaphore.set"),
    ("ipk_semset_waiters", c_int, [sem_p, c_uint, POINTER(c_int),
                                   POINTER(c_int)], "Semaphore.waiters"),
    ("ipk_semset_id", c_int, [sem_p], "Semaphore.id"),
    ("ipk_mutex_init", c_int, [c_void_p], "Mutex.init"),
    ("ipk_mutex_lock", c_int, [c_void_p, c_int], "Mutex.lock"),
    ("ipk_mutex_trylock", c_int, [c_void_p], "Mutex.trylock"),
    ("ipk_mutex_consistent", c_int, [c_void_p], "Mutex.consistent"),
    ("ipk_mutex_unlock", c_int, [c_void_p], "Mutex.release"),
    ("ipk_mutex_destroy", c_int, [c_void_p], "Mutex.destroy"),
    ("ipk_cond_init", c_int, [c_void_p], "Cond.init"),
    ("ipk_cond_wait", c_int, [c_void_p, c_void_p, c_int], "Cond.wait"),
    ("ipk_cond_signal", c_int, [c_void_p], "Cond.notify"),
    ("ipk_cond_broadcast", c_int, [c_void_p], "Cond.notify_all"),
    ("ipk_cond_destroy", c_int, [c_void_p], "Cond.destroy"),
    ("ipk_rwlock_init", c_int, [c_void_p], "RWLock.init"),
    ("ipk_rwlock_rdlock", c_int, [c_void_p, c_int], "RWLock.acquire_read"),
    ("ipk_rwlock_wrlock", c_int, [c_void_p, c_int], "RWLock.acquire_write"),
    ("ipk_rwlock_unlock", c_int, [c_void_p], "RWLock.release"),
    ("ipk_rwlock_consistent", c_int, [c_void_p], "RWLock.consistent"),
    ("ipk_rwlock_destroy", c_int, [c_void_p], "RWLock.destroy"),
    ("ipk_mutex_open", c_int, [POINTER(c_void_p), c_char_p, c_int],
     "Mutex.open"),
    ("ipk_mutex_close", c_int, [c_void_p], "Mutex._free"),
    ("ipk_cond_open", c_int, [POINTER(c_void_p), c_char_p, c_int],
     "Cond.open"),
    ("ipk_cond_close", c_int, [c_void_p], "Cond._free"),
    ("ipk_rwlock_open", c_int, [POINTER(c_void_p), c_char_p, c_int],
     "RWLock.open"),
    ("ipk_rwlock_close", c_int, [c_void_p], "RWLock._free"),
    # file locks
    ("ipk_flock_open", c_int, [POINTER(flock_p), c_char_p, c_int],
     "FileLock.__init__"),
    ("ipk_flock_lock", c_int, [flock_p, c_int, c_off_t, c_off_t, c_int],
     "FileLock.lock"),
    ("ipk_flock_unlock", c_int, [flock_p, c_off_t, c_off_t],
     "FileLock.unlock"),
    ("ipk_flock_fd", c_int, [flock_p], "FileLock.fileno"),
    ("ipk_flock_close", c_int, [flock_p], "FileLock.close"),
    # the inventory
    ("ipk_objects_open", c_int, [POINTER(objscan_p), objscan_opts_p],
     "objects.Scan.__init__"),
    ("ipk_objects_next", object_p, [objscan_p], "objects.Scan.__init__"),
    ("ipk_objects_note", c_char_p, [objscan_p, c_size_t],
     "objects.Scan.__init__"),
    ("ipk_objects_close", None, [objscan_p], "objects.Scan.close"),
    ("ipk_objstate_name", c_char_p, [c_int], "objects.state_name"),
    ("ipk_object_remove", c_int, [object_p, c_int], "objects.Scan.remove"),
    ("ipk_objects_setns", c_int, [c_pid_t], "objects.setns"),
    ("ipk_limits", c_ssize_t, [limit_p, c_size_t], "objects.limits"),
]

# C functions deliberately without a Python counterpart: name -> reason.
LEFT_OUT = {
}
