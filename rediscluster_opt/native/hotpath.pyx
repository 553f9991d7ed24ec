# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, binding=True
"""The native hot path: the submit, writer, delivery and slot-hash stages in Cython.

Each class keeps the contract of its pure twin in stages/ (the readable reference):

- `NativeSubmit` is `PooledFutureSubmit`: a FIFO of (future, deadline) kept in a C ring
  instead of a deque of records (no object per command but the future), and one timer per
  connection that fails expired commands (`_sweep`). An entry whose caller gave up keeps
  its place, so its late reply is read and dropped.
- `NativeWriter` is `JoinWriter`: commands queued and written as one buffer once per loop
  tick, or at once past FLUSH_BYTES. A `NativeSubmit` whose send is a `NativeWriter`'s
  queues through a C call rather than a Python one.
- `NativeDelivery` is `BatchDelivery`: every complete reply of one read handed over; to a
  `NativeSubmit` one by one through a C call, with no list in between.
- `slot_native` is the CRC16 slot with Redis's hash-tag rule, over the key's bytes in C.

Only the caller's `await` and the future stay Python-level objects (asyncio's futures are
C already). Built by `rcopt build` (rediscluster_opt/native/__init__.py) with Cython.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from libc.string cimport memchr

from rediscluster_opt.core.resp import NEED_DATA as _NEED_DATA_OBJECT

cdef object NEED_DATA = _NEED_DATA_OBJECT
cdef double NO_DEADLINE = float("inf")  # a pipeline's entry: it waits by progress, not by a deadline

# -- slot hash ----------------------------------------------------------------------------

cdef unsigned short CRC16[256]


cdef void _fill_crc16_table():
    cdef unsigned int crc, byte, bit
    for byte in range(256):
        crc = byte << 8
        for bit in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        CRC16[byte] = crc & 0xFFFF


_fill_crc16_table()


cdef inline unsigned int _crc16(const unsigned char* data, Py_ssize_t size) noexcept:
    cdef unsigned int crc = 0
    cdef Py_ssize_t i
    for i in range(size):
        crc = ((crc << 8) & 0xFF00) ^ CRC16[((crc >> 8) ^ data[i]) & 0xFF]
    return crc


cpdef int slot_native(bytes key):
    """key -> slot 0..16383: the CRC16 of the key, or of its hash tag (the bytes between
    the first '{' and the next '}', when that is not empty)."""
    cdef const unsigned char* data = <const unsigned char*> PyBytes_AS_STRING(key)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(key)
    cdef const unsigned char* opening = <const unsigned char*> memchr(data, ord("{"), size)
    cdef const unsigned char* closing
    if opening != NULL:
        closing = <const unsigned char*> memchr(opening + 1, ord("}"), size - (opening + 1 - data))
        if closing != NULL and closing > opening + 1:
            return _crc16(opening + 1, closing - opening - 1) & 16383
    return _crc16(data, size) & 16383


# -- writer -------------------------------------------------------------------------------

cdef class NativeWriter:
    """NativeWriter(loop)
--

Queue commands; once per loop tick write them as one joined buffer (at once past
    FLUSH_BYTES). `close` returns how many queued payloads were never written."""

    FLUSH_BYTES = 256 * 1024

    cdef public long writes
    cdef list _items
    cdef Py_ssize_t _size
    cdef bint _scheduled
    cdef Py_ssize_t _limit
    cdef object _call_soon
    cdef object _flush
    cdef object _transport

    def __init__(self, loop):
        self.writes = 0
        self._items = []
        self._size = 0
        self._scheduled = False
        self._limit = type(self).FLUSH_BYTES
        self._call_soon = loop.call_soon
        self._flush = self.flush
        self._transport = None

    def attach(self, transport):
        self._transport = transport

    def close(self):
        self._transport = None
        cdef Py_ssize_t unsent = len(self._items)
        self._items = []
        self._size = 0
        return unsent

    def send(self, bytes payload):
        self._queue(payload)

    cdef inline void _queue(self, bytes payload) except *:
        self._items.append(payload)
        self._size += PyBytes_GET_SIZE(payload)
        if self._size >= self._limit:
            self.flush()  # large values: write now rather than join a growing pile
        elif not self._scheduled:
            self._scheduled = True
            self._call_soon(self._flush)

    cpdef flush(self):
        self._scheduled = False
        cdef list items = self._items
        transport = self._transport
        if not items or transport is None or transport.is_closing():
            return  # a closing transport: `close` counts what is queued as never written
        self._items = []
        self._size = 0
        if len(items) == 1:
            transport.write(items[0])
        elif PyBytes_GET_SIZE(items[len(items) - 1]) >= self._limit:  # a large value is not copied again
            transport.write(b"".join(items[: len(items) - 1]))
            transport.write(items[len(items) - 1])
        else:
            transport.write(b"".join(items))
        self.writes += 1


# -- submit -------------------------------------------------------------------------------

cdef struct Entry:
    PyObject* future  # a strong reference, owned by the ring
    double deadline


cdef class NativeSubmit:
    """NativeSubmit(loop, send, timeout)
--

One connection's FIFO of pending commands, oldest first, in a ring of C structs."""

    cdef Entry* _ring
    cdef Py_ssize_t _capacity  # a power of two
    cdef Py_ssize_t _head
    cdef Py_ssize_t _count
    cdef object _loop
    cdef object _send
    cdef NativeWriter _writer  # the writer whose queue `send` is, else None
    cdef object _new_future
    cdef object _now
    cdef double _timeout
    cdef object _handle
    cdef object _sweep_callback

    def __cinit__(self):
        self._capacity = 64
        self._ring = <Entry*> PyMem_Malloc(self._capacity * sizeof(Entry))
        if self._ring == NULL:
            raise MemoryError()
        self._head = 0
        self._count = 0

    def __init__(self, loop, send, double timeout):
        self._loop = loop
        self._send = send
        owner = getattr(send, "__self__", None)
        self._writer = owner if isinstance(owner, NativeWriter) and getattr(send, "__name__", "") == "send" else None
        self._new_future = loop.create_future
        self._now = loop.time
        self._timeout = timeout
        self._handle = None
        self._sweep_callback = self._sweep

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self._ring != NULL:
            for i in range(self._count):
                Py_DECREF(<object> self._ring[(self._head + i) & (self._capacity - 1)].future)
            PyMem_Free(self._ring)
            self._ring = NULL

    @property
    def in_flight(self):
        return self._count

    cdef int _grow(self) except -1:
        cdef Py_ssize_t capacity = self._capacity * 2
        cdef Entry* ring = <Entry*> PyMem_Malloc(capacity * sizeof(Entry))
        cdef Py_ssize_t i
        if ring == NULL:
            raise MemoryError()
        for i in range(self._count):
            ring[i] = self._ring[(self._head + i) & (self._capacity - 1)]
        PyMem_Free(self._ring)
        self._ring = ring
        self._capacity = capacity
        self._head = 0
        return 0

    cdef inline int _push(self, object future, double deadline) except -1:
        if self._count == self._capacity:
            self._grow()
        cdef Entry* entry = &self._ring[(self._head + self._count) & (self._capacity - 1)]
        Py_INCREF(future)
        entry.future = <PyObject*> future
        entry.deadline = deadline
        self._count += 1
        return 0

    cdef inline object _pop(self):
        """The oldest entry's future (the ring's reference passes to the caller)."""
        if self._count == 0:
            raise IndexError("a reply came with no command waiting for it")
        cdef PyObject* future = self._ring[self._head].future
        self._head = (self._head + 1) & (self._capacity - 1)
        self._count -= 1
        result = <object> future  # a new reference...
        Py_DECREF(result)  # ...the ring's given up
        return result

    cdef inline void _write(self, bytes payload) except *:
        if self._writer is not None:
            self._writer._queue(payload)
        else:
            self._send(payload)

    def call(self, bytes payload):
        future = self._new_future()
        cdef double deadline = self._now() + self._timeout
        self._push(future, deadline)
        self._write(payload)
        if self._handle is None:
            self._handle = self._loop.call_at(deadline, self._sweep_callback)
        return future

    def call_pair(self, bytes first, bytes payload):
        """Send two commands back to back; the second's reply, the first's dropped."""
        skipped = self._new_future()
        skipped.cancel()  # done already, so its reply (or failure) is dropped
        self._push(skipped, self._now() + self._timeout)
        self._write(first)
        return self.call(payload)

    def call_many(self, payloads):
        """Queue and send every payload now, in order; a future per reply, no deadline."""
        futures = []
        for payload in payloads:
            future = self._new_future()
            self._push(future, NO_DEADLINE)
            self._write(payload)
            futures.append(future)
        return futures

    cdef inline void _deliver(self, object reply) except *:
        future = self._pop()
        if not future.done():
            future.set_result(reply)

    def deliver_one(self, reply):
        self._deliver(reply)

    def deliver_many(self, list replies):
        for reply in replies:
            self._deliver(reply)

    def _sweep(self):
        self._handle = None
        cdef double now = self._loop.time()
        cdef Py_ssize_t i
        cdef Entry* entry
        for i in range(self._count):
            entry = &self._ring[(self._head + i) & (self._capacity - 1)]
            future = <object> entry.future
            if entry.deadline == NO_DEADLINE or future.done():  # a pipeline's entry waits by progress
                continue
            if entry.deadline > now:  # FIFO order is deadline order: the rest are later
                self._handle = self._loop.call_at(entry.deadline, self._sweep_callback)
                return
            future.set_exception(TimeoutError(f"no reply within {self._timeout:g} s"))

    def cancel(self):
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def fail_all(self, error, Py_ssize_t unsent=0, unsent_error=None):
        """Fail every pending command, oldest first; the last `unsent` were never written
        and get `unsent_error` when it is given."""
        self.cancel()
        cdef Py_ssize_t count = self._count
        cdef Py_ssize_t cut = count - unsent if unsent_error is not None else count
        cdef Py_ssize_t i
        if cut < 0:
            cut = 0
        for i in range(count):
            future = self._pop()
            if not future.done():
                future.set_exception(error if i < cut else unsent_error)

    @staticmethod
    def fuses_with(writer):
        """Whether this submit has a fused form with this writer class (a NativeWriter:
        `call` then queues through C, so `call` itself is that form)."""
        return isinstance(writer, type) and issubclass(writer, NativeWriter)

    def fused_execute(self, writer):
        return self.call if isinstance(writer, NativeWriter) else None


# -- delivery -----------------------------------------------------------------------------

cdef class NativeDelivery:
    """NativeDelivery(parser, submit)
--

Every complete reply of one read to its waiting caller."""

    cdef public long reads
    cdef public long replies
    cdef object _feed
    cdef object _gets
    cdef NativeSubmit _native  # the submit stage when it is native, else None
    cdef object _deliver_many

    def __init__(self, parser, submit):
        self.reads = 0
        self.replies = 0
        self._feed = parser.feed
        self._gets = parser.gets
        self._native = submit if isinstance(submit, NativeSubmit) else None
        self._deliver_many = submit.deliver_many

    def data_received(self, data):
        self.reads += 1
        self._feed(data)
        gets = self._gets
        cdef NativeSubmit native = self._native
        cdef list replies
        reply = gets()
        if native is not None:
            while reply is not NEED_DATA:
                self.replies += 1
                native._deliver(reply)
                reply = gets()
            return
        replies = []
        while reply is not NEED_DATA:
            replies.append(reply)
            reply = gets()
        if replies:
            self.replies += len(replies)
            self._deliver_many(replies)


# -- routes -------------------------------------------------------------------------------
# The `native` dispatch: the keyed route and the shaped command methods of client/fused.py,
# written once here instead of generated as Python per stage choice. A method is a Cython
# closure over its route and shape (no attribute read to find them), and each command is one
# Cython coroutine: `await client.get(k)`, `create_task(client.get(k))` and `gather` take it as
# they take a Python one. The behaviour is the generated route's, step by step (fused.ROUTE):
# the same conversions, the same slow-path entries with the same arguments.

from libc.stdio cimport snprintf
from libc.string cimport memcpy
from cpython.bytes cimport PyBytes_FromStringAndSize


cdef Py_ssize_t _bulk_header(char* out, Py_ssize_t size) noexcept:
    """Write `$<size>\\r\\n` at `out` (room for 24 bytes); its length."""
    return snprintf(out, 24, "$%zd\r\n", size)


cdef bytes _pack(bytes prefix, bytes key, object value):
    """prefix + key as a bulk string (+ value as one, unless None): a shaped command's RESP."""
    cdef char key_head[24]
    cdef char value_head[24]
    cdef Py_ssize_t key_size = PyBytes_GET_SIZE(key)
    cdef Py_ssize_t key_head_size = _bulk_header(key_head, key_size)
    cdef Py_ssize_t value_size = 0, value_head_size = 0
    cdef Py_ssize_t prefix_size = PyBytes_GET_SIZE(prefix)
    if value is not None:
        value_size = PyBytes_GET_SIZE(<bytes> value)
        value_head_size = _bulk_header(value_head, value_size)
    total = prefix_size + key_head_size + key_size + 2
    if value is not None:
        total += value_head_size + value_size + 2
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef char* at = PyBytes_AS_STRING(out)
    memcpy(at, PyBytes_AS_STRING(prefix), prefix_size)
    at += prefix_size
    memcpy(at, key_head, key_head_size)
    at += key_head_size
    memcpy(at, PyBytes_AS_STRING(key), key_size)
    at += key_size
    at[0] = b"\r"
    at[1] = b"\n"
    at += 2
    if value is not None:
        memcpy(at, value_head, value_head_size)
        at += value_head_size
        memcpy(at, PyBytes_AS_STRING(<bytes> value), value_size)
        at += value_size
        at[0] = b"\r"
        at[1] = b"\n"
    return out


cdef class _Shape:
    """A shaped command: its name, its RESP prefix (`*<n>\\r\\n$<len>\\r\\n<NAME>\\r\\n`), whether it
    takes a value after its key, and the function its reply goes through (None: as is)."""

    cdef bytes command
    cdef bytes prefix
    cdef bint with_value
    cdef object result

    def __init__(self, bytes command, bint with_value, result):
        self.command = command
        self.with_value = with_value
        self.prefix = b"*%d\r\n$%d\r\n%b\r\n" % (3 if with_value else 2, len(command), command)
        self.result = result

    cdef tuple args(self, key, value):
        return (self.command, key, value) if self.with_value else (self.command, key)


cdef class NativeRoutes:
    """NativeRoutes(cluster, slot_of, indexed, single, names)
--

One stage choice's routes in one mode. `slot_of`: the slot-hash stage (its C form is
    called directly when it is `slot_native`); `indexed`: the slot map's `_table` is indexed
    by slot (else `lookup` is called); `single`: the selector keeps a `_single` dict of
    one-connection nodes (else `pick` is called); `names`: the routes' namespace
    (client/fused.py's), whose encoder, outcome types and errors they use."""

    cdef bint cluster
    cdef object slot_of  # None: slot_native, in C
    cdef bint indexed
    cdef bint single
    cdef object encode, to_bytes, refuse_oversized, Single, NOT_SENT, Lost, Replied
    cdef object ReplyError, RedisConnectionError

    def __init__(self, bint cluster, slot_of, bint indexed, bint single, dict names):
        self.cluster = cluster
        self.slot_of = None if slot_of is slot_native else slot_of
        self.indexed = indexed
        self.single = single
        self.encode = names["encode"]
        self.to_bytes = names["to_bytes"]
        self.refuse_oversized = names["refuse_oversized"]
        self.Single = names["Single"]
        self.NOT_SENT = names["NOT_SENT"]
        self.Lost = names["Lost"]
        self.Replied = names["Replied"]
        self.ReplyError = names["ReplyError"]
        self.RedisConnectionError = names["RedisConnectionError"]

    def keyed(self):
        """The `_keyed(key, args)` method: any command with one routing key."""
        cdef NativeRoutes route = self

        def _keyed(host, key, args):
            return _command(route, None, host, key, None, args)

        return _keyed

    def shaped(self, bytes command, bint with_value, result, general):
        """A shaped method, `(key)` or `(key, value)`: its plain form here, a call with
        any keyword option through `general` (the command's general method)."""
        cdef NativeRoutes route = self
        cdef _Shape shape = _Shape(command, with_value, result)
        if with_value:
            def method(host, key, value, **options):
                if options:
                    return general(host, key, value, **options)
                return _command(route, shape, host, key, value, None)
        else:
            def method(host, key, **options):
                if options:
                    return general(host, key, **options)
                return _command(route, shape, host, key, None, None)
        return method

    cdef inline object _slot(self, bytes key):
        if self.slot_of is None:
            return slot_native(key)
        return self.slot_of(key)

    cdef inline object _address(self, slot_map, slot):
        if self.indexed:
            return slot_map._table[slot]
        return slot_map.lookup(slot)

    cdef inline object _pick(self, selector, address):
        if self.single:
            mux = selector._single.get(address)
            if mux is not None:
                return mux
        return selector.pick(address)


cdef inline tuple _args(_Shape shape, key, value, tuple args):
    """The command's arguments: a shaped command's built from its name (only off the fast
    path, which never needs them), the keyed route's as given."""
    return shape.args(key, value) if shape is not None else args


cdef inline object _request(NativeRoutes route, _Shape shape, key, value, tuple args):
    """The command as the slow path resends it."""
    return route.Single(route.encode, _args(shape, key, value, args))


async def _command(NativeRoutes route, _Shape shape, host, key, value, tuple args):
    """One keyed command, fast path and slow-path entries as the generated route's."""
    slot = None
    if shape is not None or route.cluster:  # the generic route's key routes only in a cluster
        if type(key) is not bytes:
            key = route.to_bytes(key)
    if shape is not None and shape.with_value and type(value) is not bytes:
        value = route.to_bytes(value)
    if route.cluster:
        slot = route._slot(key)
        address = route._address(host._slot_map, slot)
    else:
        address = host._address
    mux = route._pick(host._selector, address)
    if mux is None or mux.congested:
        return _shaped(shape, await host._retry(slot, _request(route, shape, key, value, args), address, route.NOT_SENT))
    if shape is not None:
        payload = _pack(shape.prefix, key, value if shape.with_value else None)
    else:
        payload = route.encode(args)
    max_bulk = host._max_bulk
    if len(payload) > max_bulk:
        route.refuse_oversized(payload, _args(shape, key, value, args), max_bulk)
    try:
        reply = await mux.execute(payload)
    except (route.RedisConnectionError, TimeoutError) as exc:
        reply = await host._retry(slot, _request(route, shape, key, value, args), address, route.Lost(exc))
    except RuntimeError as exc:
        raise host._foreign_loop(exc) from exc
    else:
        if type(reply) is route.ReplyError:  # every redirect is an error reply (the contract)
            reply = await host._retry(slot, _request(route, shape, key, value, args), address, route.Replied(reply))
    return _shaped(shape, reply)


cdef inline object _shaped(_Shape shape, reply):
    """The reply as the command method returns it."""
    if shape is not None and shape.result is not None:
        return shape.result(reply)
    return reply
