"""The package as `make install` puts it: imported from the install tree,
with the library found next to it (no IPCKIT_LIB)."""
import os
import unittest

import ipckit
from ipckit import _lib

PREFIX = os.environ.get("IPK_PY_PREFIX")


@unittest.skipUnless(PREFIX, "run by tests/test_python.sh on an install")
class Installed(unittest.TestCase):

    def test_package_comes_from_the_install(self):
        self.assertTrue(os.path.realpath(ipckit.__file__).startswith(
            os.path.realpath(PREFIX) + os.sep), ipckit.__file__)

    def test_library_found_beside_it(self):
        self.assertNotIn("IPCKIT_LIB", os.environ)
        self.assertTrue(os.path.realpath(_lib.path).startswith(
            os.path.realpath(PREFIX) + os.sep), _lib.path)

    def test_it_works(self):
        a, b = ipckit.pair("pipe:")
        with a, b:
            a.send(b"installed")
            self.assertEqual(b.recv(5), b"installed")


if __name__ == "__main__":
    unittest.main()
