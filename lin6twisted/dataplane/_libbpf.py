# -*- test-case-name: lin6twisted.dataplane.test.test_libbpf -*-
"""
A small ctypes binding of libbpf (C{libbpf.so.1}): load a BPF object, find
its maps and programs, update and read maps, consume a ring buffer, and run
a program with C{BPF_PROG_TEST_RUN}.

Map operations are direct C{bpf(2)} calls through libbpf: a few microseconds
each, no subprocess.  Every failure raises L{BPFError} with the errno.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import mmap
import os
from collections.abc import Callable, Iterator
from typing import Any, Final

__all__ = [
    "BPFError",
    "BPFObject",
    "MapFD",
    "RingBuffer",
    "available",
    "enableStats",
    "mapMemory",
    "numPossibleCPUs",
    "testRun",
]

BPF_ANY: Final = 0
BPF_NOEXIST: Final = 1
BPF_EXIST: Final = 2


class BPFError(OSError):
    """
    A libbpf call failed; C{errno} says why.
    """


_lib: ctypes.CDLL | None = None
_PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_SAMPLE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


def _quietPrint(level: int, fmt: bytes, args: int) -> int:
    # libbpf's own diagnostics go to stderr by default; keep them off the
    # test and daemon output (errors still raise with their errno).
    return 0


_quiet = _PRINT_FN(_quietPrint)


class _TestRunOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("data_in", ctypes.c_void_p),
        ("data_out", ctypes.c_void_p),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_void_p),
        ("ctx_out", ctypes.c_void_p),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("repeat", ctypes.c_int),
        ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    ]


def _setup(lib: ctypes.CDLL) -> None:
    P, Int, C, U32, U64 = (
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint32,
        ctypes.c_uint64,
    )
    sigs: dict[str, tuple[Any, list[Any]]] = {
        "libbpf_set_print": (P, [_PRINT_FN]),
        "libbpf_num_possible_cpus": (Int, []),
        "bpf_object__open_file": (P, [C, P]),
        "bpf_object__load": (Int, [P]),
        "bpf_object__close": (None, [P]),
        "bpf_object__find_map_by_name": (P, [P, C]),
        "bpf_object__find_program_by_name": (P, [P, C]),
        "bpf_map__fd": (Int, [P]),
        "bpf_map__set_max_entries": (Int, [P, U32]),
        "bpf_program__fd": (Int, [P]),
        "bpf_map_update_elem": (Int, [Int, C, C, U64]),
        "bpf_map_lookup_elem": (Int, [Int, C, C]),
        "bpf_map_delete_elem": (Int, [Int, C]),
        "bpf_map_get_next_key": (Int, [Int, C, C]),
        "bpf_obj_pin": (Int, [Int, C]),
        "bpf_prog_test_run_opts": (Int, [Int, ctypes.POINTER(_TestRunOpts)]),
        "bpf_enable_stats": (Int, [Int]),
        "ring_buffer__new": (P, [Int, _SAMPLE_FN, P, P]),
        "ring_buffer__free": (None, [P]),
        "ring_buffer__consume": (Int, [P]),
        "ring_buffer__epoll_fd": (Int, [P]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    lib.libbpf_set_print(_quiet)


def _libbpf() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        path = ctypes.util.find_library("bpf") or "libbpf.so.1"
        try:
            lib = ctypes.CDLL(path, use_errno=True)
        except OSError as e:
            raise BPFError(errno.ENOENT, f"libbpf not found ({e}); install libbpf-dev") from None
        _setup(lib)
        _lib = lib
    return _lib


def available() -> bool:
    """
    Whether libbpf can be loaded.
    """
    try:
        _libbpf()
    except BPFError:
        return False
    return True


def _check(result: int, what: str) -> int:
    if result < 0:
        code = -result if result != -1 else (ctypes.get_errno() or errno.EINVAL)
        raise BPFError(code, f"{what}: {os.strerror(code)}")
    return result


def numPossibleCPUs() -> int:
    """
    The number of possible CPUs (the slot count of a per-CPU map value).
    """
    return _check(_libbpf().libbpf_num_possible_cpus(), "libbpf_num_possible_cpus")


class MapFD:
    """
    A BPF map by file descriptor, with fixed key and value sizes.

    Keys and values are C{bytes} in the kernel's layout.
    """

    def __init__(self, fd: int, keySize: int, valueSize: int, name: str = "map") -> None:
        self.fd = fd
        self.keySize = keySize
        self.valueSize = valueSize
        self.name = name
        lib = _libbpf()
        self._update = lib.bpf_map_update_elem
        self._lookup = lib.bpf_map_lookup_elem
        self._delete = lib.bpf_map_delete_elem
        self._next = lib.bpf_map_get_next_key

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        """
        Insert or replace C{key}.

        @raise BPFError: e.g. C{E2BIG} when the map is full.
        """
        if len(key) != self.keySize or len(value) != self.valueSize:
            raise BPFError(errno.EINVAL, f"{self.name}: wrong key or value size")
        if self._update(self.fd, key, value, flags) < 0:
            code = ctypes.get_errno()
            raise BPFError(code, f"update {self.name}: {os.strerror(code)}")

    def lookup(self, key: bytes) -> bytes | None:
        """
        The value of C{key}, or C{None}.
        """
        buf = ctypes.create_string_buffer(self.valueSize)
        if self._lookup(self.fd, key, buf) < 0:
            code = ctypes.get_errno()
            if code == errno.ENOENT:
                return None
            raise BPFError(code, f"lookup {self.name}: {os.strerror(code)}")
        return buf.raw

    def delete(self, key: bytes) -> bool:
        """
        Delete C{key}; whether it was there.
        """
        if self._delete(self.fd, key) < 0:
            code = ctypes.get_errno()
            if code == errno.ENOENT:
                return False
            raise BPFError(code, f"delete {self.name}: {os.strerror(code)}")
        return True

    def keys(self) -> Iterator[bytes]:
        """
        Iterate over the keys (a snapshot is not guaranteed under updates).
        """
        prev: bytes | None = None
        buf = ctypes.create_string_buffer(self.keySize)
        while True:
            if self._next(self.fd, prev, buf) < 0:
                code = ctypes.get_errno()
                if code == errno.ENOENT:
                    return
                raise BPFError(code, f"iterate {self.name}: {os.strerror(code)}")
            prev = buf.raw
            yield prev

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """
        Iterate over C{(key, value)} pairs.
        """
        for key in list(self.keys()):
            value = self.lookup(key)
            if value is not None:
                yield key, value


class BPFObject:
    """
    A BPF object file, opened and loaded into the kernel.
    """

    def __init__(self, path: str, maxEntries: dict[str, int] | None = None) -> None:
        lib = _libbpf()
        self._lib = lib
        ptr = lib.bpf_object__open_file(path.encode(), None)
        if not ptr:
            code = ctypes.get_errno() or errno.EINVAL
            raise BPFError(code, f"open {path}: {os.strerror(code)}")
        self._obj: int | None = ptr
        try:
            for name, n in (maxEntries or {}).items():
                _check(lib.bpf_map__set_max_entries(self._map(name), n), f"resize {name}")
            _check(lib.bpf_object__load(ptr), f"load {path}")
        except BaseException:
            self.close()
            raise

    def _map(self, name: str) -> int:
        if self._obj is None:
            raise BPFError(errno.EBADF, "BPF object is closed")
        m = self._lib.bpf_object__find_map_by_name(self._obj, name.encode())
        if not m:
            raise BPFError(errno.ENOENT, f"no map {name!r} in the BPF object")
        return int(m)

    def mapFD(self, name: str) -> int:
        """
        The file descriptor of the map C{name}.
        """
        return _check(self._lib.bpf_map__fd(self._map(name)), f"fd of map {name}")

    def progFD(self, name: str) -> int:
        """
        The file descriptor of the program C{name}.
        """
        if self._obj is None:
            raise BPFError(errno.EBADF, "BPF object is closed")
        p = self._lib.bpf_object__find_program_by_name(self._obj, name.encode())
        if not p:
            raise BPFError(errno.ENOENT, f"no program {name!r} in the BPF object")
        return _check(self._lib.bpf_program__fd(p), f"fd of program {name}")

    def close(self) -> None:
        """
        Close the object: its maps and programs go away once nothing else
        (an attachment, a pin) holds them.
        """
        if self._obj is not None:
            self._lib.bpf_object__close(self._obj)
            self._obj = None


def mapMemory(fd: int, size: int) -> mmap.mmap:
    """
    The values of a C{BPF_F_MMAPABLE} array map (C{size} bytes of them),
    mapped shared and writable: the kernel places them at the start of a
    page, and stores into the mapping are seen by the programs at once.
    """
    length = -(-size // mmap.PAGESIZE) * mmap.PAGESIZE
    try:
        return mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    except OSError as e:
        raise BPFError(e.errno or errno.EINVAL, f"mmap of map fd {fd}: {e.strerror}") from None


def pin(fd: int, path: str) -> None:
    """
    Pin a map or program under a bpffs path.
    """
    _check(_libbpf().bpf_obj_pin(fd, path.encode()), f"pin {path}")


class RingBuffer:
    """
    A libbpf ring buffer consumer; C{fileno()} is an epoll descriptor that
    becomes readable when records are waiting, so a reactor can watch it.
    """

    def __init__(self, mapFD: int, callback: Callable[[bytes], None]) -> None:
        lib = _libbpf()
        self._lib = lib

        def sample(ctx: int, data: int, size: int) -> int:
            callback(ctypes.string_at(data, size))
            return 0

        self._sample = _SAMPLE_FN(sample)
        ptr = lib.ring_buffer__new(mapFD, self._sample, None, None)
        if not ptr:
            code = ctypes.get_errno() or errno.EINVAL
            raise BPFError(code, f"ring_buffer__new: {os.strerror(code)}")
        self._rb: int | None = ptr

    def fileno(self) -> int:
        if self._rb is None:
            return -1
        return int(self._lib.ring_buffer__epoll_fd(self._rb))

    def consume(self) -> int:
        """
        Hand every waiting record to the callback; how many there were.
        """
        if self._rb is None:
            return 0
        return _check(self._lib.ring_buffer__consume(self._rb), "ring_buffer__consume")

    def close(self) -> None:
        if self._rb is not None:
            self._lib.ring_buffer__free(self._rb)
            self._rb = None


def testRun(progFD: int, data: bytes, repeat: int) -> tuple[int, int, bytes]:
    """
    Run a program C{repeat} times on C{data} with C{BPF_PROG_TEST_RUN}.

    @return: the program's return value, the kernel-measured mean time per
        run in nanoseconds, and the packet as the program left it.
    """
    lib = _libbpf()
    inBuf = ctypes.create_string_buffer(data, len(data))
    outBuf = ctypes.create_string_buffer(len(data) + 256)
    opts = _TestRunOpts()
    opts.sz = ctypes.sizeof(_TestRunOpts)
    opts.data_in = ctypes.cast(inBuf, ctypes.c_void_p)
    opts.data_size_in = len(data)
    opts.data_out = ctypes.cast(outBuf, ctypes.c_void_p)
    opts.data_size_out = len(outBuf)
    opts.repeat = repeat
    if lib.bpf_prog_test_run_opts(progFD, ctypes.byref(opts)) < 0:
        code = ctypes.get_errno()
        raise BPFError(code, f"BPF_PROG_TEST_RUN: {os.strerror(code)}")
    return opts.retval, opts.duration, outBuf.raw[: opts.data_size_out]


def enableStats() -> int:
    """
    Turn on the kernel's per-program run-time statistics
    (C{BPF_STATS_RUN_TIME}) for as long as the returned descriptor is open.
    """
    return _check(_libbpf().bpf_enable_stats(0), "bpf_enable_stats")
