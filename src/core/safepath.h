/*
 * Removing a file by name without being led elsewhere.
 *
 * Looking a name up twice (once to check what it is, once to unlink it)
 * lets whoever may rename entries in a directory on the path swap that
 * directory in between, so that the check sees one file and the unlink
 * removes another. Instead the directory holding the last component is
 * opened once, following no symbolic link in any component (a link there
 * is refused with ELOOP: name the object by its real path), and
 * everything after that (what the file is, whether it is still the same
 * file, the unlink) is asked relative to that one descriptor.
 *
 * What remains: between the last identity check and unlinkat() the entry
 * in that one directory can still be replaced by someone allowed to write
 * that directory, who could remove the entry anyway. There is no
 * unlink-this-inode call.
 */
#ifndef IPK_CORE_SAFEPATH_H
#define IPK_CORE_SAFEPATH_H

#include <stdint.h>

/*
 * Open (O_PATH) the directory that holds path's last component, resolving
 * each component once and following no symbolic link; *base points at the
 * last component inside path. Returns the descriptor or -errno with a
 * message: -ELOOP (a symbolic link on the path), -ENOENT, -ENOTDIR,
 * -EINVAL (no last component, or it is "." or "..").
 */
int ipk__dir_open(const char *path, const char **base);

/*
 * Unlink base in dirfd if it is still the file dev/ino: -ESTALE (it was
 * replaced; nothing removed), -errno. what names it in messages.
 */
int ipk__unlinkat_same(int dirfd, const char *base, uint64_t dev,
                       uint64_t ino, const char *what);

/*
 * A listener removing the file it made: unlink path if it still names file
 * dev/ino, the path resolved once (symbolic links on it followed: the
 * caller chose the path and made the file there). 0, -ESTALE, -errno.
 */
int ipk__unlink_own(const char *path, uint64_t dev, uint64_t ino);

/*
 * Unlink path if it is a file of type (S_IFIFO, S_IFSOCK, S_IFREG), asked
 * and removed in the one directory: -EINVAL (another type; what_type says
 * what was wanted in the message), -ESTALE, -ELOOP, -errno.
 */
int ipk__unlink_type(const char *path, unsigned type, const char *what_type);

#endif
