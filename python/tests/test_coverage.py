"""Every public C function has a Python counterpart, with the right
prototype, and every public structure has a faithful ctypes mirror.

This is the test that fails when include/ipckit.h gains (or changes) a
function and the Python package was not told. Its messages say what to do.
"""
import ctypes
import inspect
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import ipckit
from ipckit import _api, _lib, _types

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("IPK_SOURCE") or os.path.join(HERE, "..", "..")
HEADER = os.path.join(SOURCE, "include", "ipckit.h")
API_FILE = "python/ipckit/_api.py"

HOWTO = (
    "\nTo fix: bind it in the Python package (python/ipckit/), then add a "
    "row to PROTOTYPES in %s:\n"
    '    ("ipk_name", restype, [argtypes...], "Class.method"),\n'
    "where the last item is the dotted name (inside the ipckit package) "
    "of the function, method or property that calls it; its source must "
    "mention the C name. If Python should not have it, list it in "
    "LEFT_OUT in the same file with the reason:\n"
    '    "ipk_name": "why Python users do not need it",\n'
    "docs/python.md says how the package is laid out." % API_FILE)

# C types in prototypes and their ctypes equivalents (size, signedness)
C_TYPES = {
    "void": None,
    "ipk_warn_fn": "pointer",  # a function pointer typedef
    "int": ctypes.c_int, "unsigned": ctypes.c_uint,
    "unsigned int": ctypes.c_uint, "short": ctypes.c_short,
    "unsigned short": ctypes.c_ushort, "long": ctypes.c_long,
    "unsigned long": ctypes.c_ulong, "size_t": ctypes.c_size_t,
    "ssize_t": ctypes.c_ssize_t, "off_t": ctypes.c_int64,
    "pid_t": ctypes.c_int, "uid_t": ctypes.c_uint, "gid_t": ctypes.c_uint,
    "int32_t": ctypes.c_int32, "uint32_t": ctypes.c_uint32,
    "int64_t": ctypes.c_int64, "uint64_t": ctypes.c_uint64,
}


def strip_c(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r"^[ \t]*#.*$", " ", text, flags=re.M)


def header_functions(text):
    """{name: (return type text, [parameter texts])} of the ipk_ functions
    the header declares."""
    out = {}
    decl = r"([A-Za-z_][\w\s\*]*?)\b(ipk_\w+)\s*\(([^()]*)\)\s*;"
    for m in re.finditer(decl, strip_c(text)):
        ret, fname, params = m.group(1), m.group(2), m.group(3)
        plist = [p.strip() for p in params.split(",")]
        if plist == ["void"] or plist == [""]:
            plist = []
        out[fname] = (" ".join(ret.split()), plist)
    return out


def header_structs(text):
    """{name: [field names in order]} of the structures with a body."""
    out = {}
    for m in re.finditer(r"typedef\s+struct\s+(ipk_\w+)\s*\{(.*?)\}\s*\1\s*;",
                         strip_c(text), flags=re.S):
        fields = []
        for decl in m.group(2).split(";"):
            decl = decl.strip()
            if not decl:
                continue
            first, *more = [d.strip() for d in decl.split(",")]
            for d in [first.split()[-1]] + more:
                fields.append(re.sub(r"[\*\s]|\[.*?\]", "", d))
        out[m.group(1)] = fields
    return out


def param_type(p):
    """'pointer', or the ctypes type of an integer parameter, or the text
    of an unknown type."""
    if "*" in p or "[" in p:
        return "pointer"
    words = [w for w in p.split() if w not in ("const", "volatile")]
    for n in (len(words), len(words) - 1):  # with or without a name
        t = " ".join(words[:n])
        if t in C_TYPES:
            return C_TYPES[t]
    return p


def is_pointer(t):
    return (t in (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_wchar_p) or
            (isinstance(t, type) and issubclass(t, ctypes._Pointer)))


def same_integer(t, want):
    return (isinstance(t, type) and issubclass(t, ctypes._SimpleCData) and
            t._type_ in "bBhHiIlLqQ" and
            ctypes.sizeof(t) == ctypes.sizeof(want) and
            t._type_.islower() == want._type_.islower())


def resolve(dotted):
    obj, owner = ipckit, None
    for part in dotted.split("."):
        owner = obj
        obj = inspect.getattr_static(obj, part) if isinstance(obj, type) \
            else getattr(obj, part)
    return obj, owner


def source_of(obj):
    if isinstance(obj, (classmethod, staticmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        obj = obj.fget
    return inspect.getsource(obj)


def aliases(cfunc, obj, owner):
    """Names under which the counterpart's code can reach the C function:
    module-level and class-level names bound to the very same object."""
    names = set()
    mod = inspect.getmodule(obj.__func__ if isinstance(
        obj, (classmethod, staticmethod)) else
        obj.fget if isinstance(obj, property) else obj)
    for space in [vars(mod)] + ([vars(k) for k in owner.__mro__]
                                if isinstance(owner, type) else []):
        for k, v in space.items():
            if v is cfunc:
                names.add(k)
    return names


class Coverage(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with open(HEADER) as f:
            cls.text = f.read()
        cls.funcs = header_functions(cls.text)
        cls.rows = {r[0]: r for r in _api.PROTOTYPES}

    def test_header_parses(self):
        # the parser itself must keep finding the API (a broken regex must
        # not make this whole test pass vacuously)
        for f in ("ipk_listen", "ipk_send", "ipk_recv_peek", "ipk_mutex_lock",
                  "ipk_flock_close"):
            self.assertIn(f, self.funcs)
        self.assertGreater(len(self.funcs), 80)

    def test_every_public_function_is_bound_or_left_out(self):
        missing = [f for f in sorted(self.funcs)
                   if f not in self.rows and f not in _api.LEFT_OUT]
        if missing:
            self.fail("public C functions without a Python counterpart: %s%s"
                      % (", ".join(missing), HOWTO))

    def test_no_stale_rows(self):
        stale = [f for f in list(self.rows) + list(_api.LEFT_OUT)
                 if f not in self.funcs]
        self.assertEqual(stale, [], "%s names functions that include/"
                         "ipckit.h no longer declares: remove those rows"
                         % API_FILE)
        self.assertEqual(len(self.rows), len(_api.PROTOTYPES),
                         "a function has two rows in PROTOTYPES")
        both = set(self.rows) & set(_api.LEFT_OUT)
        self.assertEqual(both, set(), "both bound and left out: %s" % both)
        for f, why in _api.LEFT_OUT.items():
            self.assertTrue(why and len(why.split()) >= 3,
                            "LEFT_OUT[%r] needs a reason in words" % f)

    def test_library_exports_every_prototype(self):
        self.assertEqual(_lib.MISSING, [],
                         "the loaded %s lacks these functions (an old build?)"
                         % _lib.path)

    def test_prototypes_match_the_header(self):
        problems = []
        for name, (ret, params) in sorted(self.funcs.items()):
            if name not in self.rows:
                continue
            _, restype, argtypes, _ = self.rows[name]
            if len(argtypes) != len(params):
                problems.append("%s takes %d arguments in the header, %d in "
                                "%s" % (name, len(params), len(argtypes),
                                        API_FILE))
                continue
            for i, (p, t) in enumerate(zip(params + [ret], argtypes +
                                           [restype])):
                what = "return type" if i == len(params) else \
                    "argument %d (%s)" % (i + 1, p)
                want = param_type(p)
                if want == "pointer":
                    ok = is_pointer(t)
                elif want is None:
                    ok = t is None
                elif isinstance(want, str):
                    problems.append("%s: unknown C type %r: add it to C_TYPES"
                                    " in python/tests/test_coverage.py"
                                    % (name, want))
                    continue
                else:
                    ok = same_integer(t, want)
                if not ok:
                    problems.append("%s: %s is %s in the header but %s in %s"
                                    % (name, what, p, getattr(t, "__name__",
                                                              t), API_FILE))
        if problems:
            self.fail("\n".join(problems))

    def test_counterparts_exist_and_call_it(self):
        problems = []
        for name, _, _, where in _api.PROTOTYPES:
            try:
                obj, owner = resolve(where)
            except AttributeError:
                problems.append("%s: counterpart %r does not exist in the "
                                "ipckit package" % (name, where))
                continue
            cfunc = getattr(_lib.lib, name, None)
            names = {name} | (aliases(cfunc, obj, owner) if cfunc else set())
            src = source_of(obj)
            if not any(re.search(r"(?<![\w])%s\b" % re.escape(n), src) or
                       re.search(r"\.%s\b" % re.escape(n), src)
                       for n in names):
                problems.append("%s: the source of %s does not call it (or "
                                "an alias of it)" % (name, where))
        if problems:
            self.fail("\n".join(problems))

    def test_struct_fields_match_the_header(self):
        structs = header_structs(self.text)
        self.assertIn("ipk_msginfo", structs)
        problems = []
        for sname, fields in sorted(structs.items()):
            mirror = _types.STRUCTS.get(sname)
            if mirror is None:
                problems.append("%s has no ctypes mirror: add a Structure to "
                                "python/ipckit/_types.py and to STRUCTS"
                                % sname)
                continue
            mine = [f for f, _ in mirror._fields_]
            if mine != fields:
                problems.append("%s: the header has fields %s, "
                                "python/ipckit/_types.py %s"
                                % (sname, fields, mine))
        if problems:
            self.fail("\n".join(problems))

    def test_struct_layout_matches_the_compiler(self):
        cc = shutil.which(os.environ.get("CC", "cc"))
        if cc is None:
            self.skipTest("no C compiler to ask")
        lines = []
        for sname, mirror in sorted(_types.STRUCTS.items()):
            lines.append('printf("%s size %%zu\\n", sizeof(%s));'
                         % (sname, sname))
            for f, _ in mirror._fields_:
                lines.append('printf("%s.%s %%zu\\n", offsetof(%s, %s));'
                             % (sname, f, sname, f))
        prog = ("#include <ipckit.h>\n#include <stddef.h>\n"
                "#include <stdio.h>\nint main(void) {\n%s\nreturn 0;\n}\n"
                % "\n".join(lines))
        with tempfile.TemporaryDirectory() as d:
            src, exe = os.path.join(d, "layout.c"), os.path.join(d, "layout")
            with open(src, "w") as f:
                f.write(prog)
            r = subprocess.run([cc, "-std=c11", "-I",
                                os.path.join(SOURCE, "include"), src, "-o",
                                exe], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, "compiling the layout probe "
                             "failed (a field renamed?):\n" + r.stderr)
            out = subprocess.run([exe], capture_output=True, text=True,
                                 check=True).stdout
        want = {}
        for line in out.splitlines():
            k, _, v = line.partition(" ")
            want[k] = int(v.split()[-1])
        problems = []
        for sname, mirror in _types.STRUCTS.items():
            if ctypes.sizeof(mirror) != want[sname]:
                problems.append("sizeof(%s): C %d, ctypes %d" % (
                    sname, want[sname], ctypes.sizeof(mirror)))
            for f, _ in mirror._fields_:
                off = getattr(mirror, f).offset
                if off != want["%s.%s" % (sname, f)]:
                    problems.append("offsetof(%s, %s): C %d, ctypes %d" % (
                        sname, f, want["%s.%s" % (sname, f)], off))
        if problems:
            self.fail("\n".join(problems))

    def test_sizes_the_header_promises(self):
        self.assertEqual(ipckit.Mutex.SIZE, ctypes.sizeof(_types.ipk_mutex))
        self.assertEqual(ipckit.Cond.SIZE, ctypes.sizeof(_types.ipk_cond))
        self.assertEqual(ipckit.RWLock.SIZE, ctypes.sizeof(_types.ipk_rwlock))
        m = re.search(r"#define IPK_SEM_MEM_SIZE (\d+)", self.text)
        from ipckit import sync
        self.assertEqual(sync.SEM_MEM_SIZE, int(m.group(1)))


if __name__ == "__main__":
    unittest.main()
