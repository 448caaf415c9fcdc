"""Routes: the way back from a REP server to the client that asked.

A request received on a ?proto=rep channel carries a Route (Message.route).
Giving it back with the reply (``rep.send(data, route=msg.route)`` or
``rep.reply(msg, data)``) sends the reply to that client, so a server can
hold many requests at once and answer them in any order. A Route is an
opaque copy of the library's 64-byte ipk_route: keep it as long as needed,
use it as a dict key; it is only valid on the channel that received it.
"""
import ctypes

from ._types import ipk_route

SIZE = ctypes.sizeof(ipk_route)
_ZERO = bytes(SIZE)


class Route:
    """Where the reply to one request goes (opaque, immutable, hashable)."""

    __slots__ = ("_raw",)

    def __init__(self, raw):
        raw = bytes(raw)
        if len(raw) != SIZE:
            raise ValueError("a route is %d bytes, not %d" % (SIZE, len(raw)))
        self._raw = raw

    def __bytes__(self):
        return self._raw

    def __eq__(self, other):
        return isinstance(other, Route) and other._raw == self._raw

    def __hash__(self):
        return hash(self._raw)

    def __repr__(self):
        return "<ipckit.Route %s>" % self._raw[:24].hex()


def from_info(info):
    """The Route in an ipk_msginfo, or None when it is zero (not a REP)."""
    raw = bytes(info.route)
    return None if raw == _ZERO else Route(raw)


def into_info(info, route):
    """Put route (a Route, or a received Message that has one) into an
    ipk_msginfo."""
    r = getattr(route, "route", route)
    if not isinstance(r, Route):
        raise TypeError("route must be an ipckit.Route (Message.route of a "
                        "request received on a ?proto=rep channel), not %s"
                        % type(route).__name__)
    info.route = ipk_route.from_buffer_copy(r._raw)
