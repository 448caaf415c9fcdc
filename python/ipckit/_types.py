"""ctypes mirrors of the structures in include/ipckit.h.

Field names and order follow the header exactly (python/tests/test_coverage.py
compares them, and their offsets, with a C compiler's view of the header).
"""
from ctypes import (POINTER, Structure, c_char_p, c_int, c_int32, c_int64,
                    c_long, c_short, c_size_t, c_uint, c_uint64, c_ushort,
                    c_void_p)

c_pid_t = c_int
c_uid_t = c_uint
c_gid_t = c_uint


class _Opaque(Structure):
    _fields_ = []


class ipk_chan(_Opaque):
    pass


class ipk_region(_Opaque):
    pass


class ipk_sem(_Opaque):
    pass


class ipk_flock(_Opaque):
    pass


chan_p = POINTER(ipk_chan)
region_p = POINTER(ipk_region)
sem_p = POINTER(ipk_sem)
flock_p = POINTER(ipk_flock)


class ipk_spawn_opts(Structure):
    _fields_ = [("pty", c_int), ("framed", c_int), ("keep_stderr", c_int),
                ("envp", POINTER(c_char_p)), ("cwd", c_char_p),
                ("linger_ms", c_int)]


class ipk_route(Structure):
    _fields_ = [("opaque", c_uint64 * 8)]


class ipk_msginfo(Structure):
    _fields_ = [("type", c_long), ("prio", c_uint), ("pid", c_pid_t),
                ("uid", c_uid_t), ("flags", c_int), ("missed", c_uint64),
                ("status", c_int), ("route", ipk_route)]


class ipk_pollitem(Structure):
    _fields_ = [("chan", chan_p), ("events", c_short), ("revents", c_short)]


class ipk_queue_info(Structure):
    _fields_ = [("scheme", c_char_p), ("messages", c_size_t),
                ("bytes", c_size_t), ("max_bytes", c_size_t),
                ("max_messages", c_size_t), ("max_msgsize", c_size_t),
                ("last_send_pid", c_pid_t), ("last_recv_pid", c_pid_t),
                ("send_time", c_int64), ("recv_time", c_int64),
                ("change_time", c_int64), ("uid", c_uid_t), ("cuid", c_uid_t),
                ("gid", c_gid_t), ("cgid", c_gid_t), ("mode", c_uint),
                ("id", c_long), ("key", c_long), ("flags", c_long)]


class ipk_regioninfo(Structure):
    _fields_ = [("kind", c_int), ("size", c_size_t), ("nattch", c_long),
                ("cpid", c_pid_t), ("lpid", c_pid_t), ("uid", c_uid_t),
                ("gid", c_uid_t), ("cuid", c_uid_t), ("cgid", c_uid_t),
                ("mode", c_uint), ("shmid", c_int), ("key", c_int32),
                ("atime", c_int64), ("dtime", c_int64), ("ctime", c_int64),
                ("created", c_int), ("rdonly", c_int)]


class ipk_ringinfo(Structure):
    _fields_ = [("capacity", c_size_t), ("used", c_size_t),
                ("max_message", c_size_t), ("mpmc", c_int),
                ("producers", c_int), ("consumers", c_int),
                ("producer_pid", c_pid_t), ("consumer_pid", c_pid_t)]


class ipk_semop(Structure):
    _fields_ = [("num", c_ushort), ("op", c_short), ("flags", c_short)]


class ipk_mutex(Structure):
    _fields_ = [("opaque", c_uint64 * 8)]


class ipk_cond(Structure):
    _fields_ = [("opaque", c_uint64 * 2)]


class ipk_rwlock(Structure):
    _fields_ = [("opaque", c_uint64 * 400)]


class ipk_objscan(_Opaque):
    pass


class ipk_objpid(Structure):
    _fields_ = [("pid", c_pid_t), ("state", c_int)]


class ipk_object(Structure):
    _fields_ = [("kind", c_char_p), ("address", c_char_p), ("path", c_char_p),
                ("detail", c_char_p), ("use", c_char_p), ("state", c_int),
                ("why", c_char_p), ("persist", c_int), ("id", c_long),
                ("key", c_long), ("uid", c_uid_t), ("gid", c_gid_t),
                ("mode", c_uint), ("size", c_uint64), ("messages", c_int64),
                ("bytes", c_int64), ("attached", c_int64),
                ("producers", c_int), ("consumers", c_int),
                ("value", c_int64), ("count", c_int64),
                ("creator", ipk_objpid), ("last", ipk_objpid),
                ("nholders", c_size_t), ("holders", c_pid_t * 8),
                ("changed", c_int64)]


class ipk_objscan_opts(Structure):
    _fields_ = [("kind", c_char_p), ("paths", POINTER(c_char_p)),
                ("flags", c_int)]


class ipk_limit(Structure):
    _fields_ = [("name", c_char_p), ("what", c_char_p), ("value", c_int64),
                ("used", c_int64), ("unit", c_char_p), ("raise", c_char_p)]


class iovec(Structure):  # struct iovec of <sys/uio.h>
    _fields_ = [("iov_base", c_void_p), ("iov_len", c_size_t)]


iovec_p = POINTER(iovec)
objscan_p = POINTER(ipk_objscan)
object_p = POINTER(ipk_object)
objscan_opts_p = POINTER(ipk_objscan_opts)
limit_p = POINTER(ipk_limit)
msginfo_p = POINTER(ipk_msginfo)
pollitem_p = POINTER(ipk_pollitem)
queue_info_p = POINTER(ipk_queue_info)
regioninfo_p = POINTER(ipk_regioninfo)
ringinfo_p = POINTER(ipk_ringinfo)
semop_p = POINTER(ipk_semop)
spawn_opts_p = POINTER(ipk_spawn_opts)

# every structure the header defines, by its C name (for the layout test)
STRUCTS = {cls.__name__: cls for cls in (
    ipk_spawn_opts, ipk_route, ipk_msginfo, ipk_pollitem, ipk_queue_info,
    ipk_regioninfo, ipk_ringinfo, ipk_semop, ipk_mutex, ipk_cond,
    ipk_rwlock, ipk_objpid, ipk_object, ipk_objscan_opts, ipk_limit)}
