"""The access token ``marketscout remote`` keeps between runs, so that a script running it several
times a minute does not spend the log-in's rate limit (5 a minute) on every run.

One file per server and account in ``$XDG_CACHE_HOME/marketscout/`` (by default
``~/.cache/marketscout/``) holds the access token and when it expires, never the refresh token.
The token is a bearer secret: whoever reads it acts as the account until it expires. So the
folder must be a real folder (not a symbolic link) of the user's own, closed to everyone else
(made 0700), and the file is written whole, as a new file of mode 0600 renamed over the old one.
Where that cannot be made sure, nothing is kept or read (:class:`UnsafeCache` says why).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

# A kept token is used until this long before it expires, not up to the last second.
SPARE_SECONDS = 60
# A token file is a few hundred bytes; anything longer is not one of ours.
MOST_BYTES = 64 * 1024


class UnsafeCache(Exception):
    """Why no token can be kept or read in the cache folder, in words that name it."""


def cache_folder(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/marketscout``, or ``~/.cache/marketscout`` when it is unset or not an
    absolute path (which the XDG base directory specification says to ignore)."""
    if os.name != "posix":
        raise UnsafeCache("keeping it needs a POSIX system")
    configured = environ.get("XDG_CACHE_HOME", "")
    if configured and Path(configured).is_absolute():
        return Path(configured) / "marketscout"
    try:
        return Path.home() / ".cache" / "marketscout"
    except RuntimeError:
        raise UnsafeCache("no home folder to keep it in (set XDG_CACHE_HOME)") from None


class TokenCache:
    """The access token kept for one server and account, in ``folder``."""

    def __init__(self, folder: Path, server: str, username: str) -> None:
        self.folder = folder
        self.server = server.rstrip("/")
        self.username = username
        key = hashlib.sha256(f"{self.server}\n{username}".encode()).hexdigest()[:32]
        self._name = f"access-token-{key}.json"

    def load(self, now: float, *, spare: float = SPARE_SECONDS) -> str | None:
        """The token kept, or None: none kept, or one that expires within ``spare`` seconds of
        ``now`` (a UNIX time), or a file this class did not write."""
        folder = self._checked_folder()
        if folder is None:
            return None
        try:
            # Not following a link, not waiting on a pipe: anything but a file is not ours.
            file = os.open(self._name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
        except OSError:
            return None
        finally:
            os.close(folder)
        with os.fdopen(file, "rb") as handle:
            found = os.fstat(handle.fileno())
            if not stat.S_ISREG(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
                return None
            raw = handle.read(MOST_BYTES + 1)
        if len(raw) > MOST_BYTES:
            return None
        try:
            kept = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(kept, dict):
            return None
        whose, token, expires_at = (
            (kept.get("server"), kept.get("username")),
            kept.get("access_token"),
            kept.get("expires_at"),
        )
        if whose != (self.server, self.username) or not isinstance(token, str) or not token:
            return None
        if isinstance(expires_at, bool) or not isinstance(expires_at, int | float):
            return None
        return token if now < expires_at - spare else None

    def keep(self, token: str, expires_in: int, now: float) -> None:
        """Keeps ``token``, which the server said expires ``expires_in`` seconds after ``now``
        (one that would not be used again is not kept)."""
        if expires_in <= SPARE_SECONDS:
            return
        kept = {
            "server": self.server,
            "username": self.username,
            "access_token": token,
            "expires_at": int(now) + expires_in,
        }
        folder = self._made_folder()
        temporary = f".{self._name}.{secrets.token_hex(8)}"
        try:
            file = os.open(
                temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=folder
            )
            try:
                with os.fdopen(file, "wb") as handle:
                    os.fchmod(handle.fileno(), 0o600)  # whatever the umask
                    handle.write(json.dumps(kept).encode())
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, self._name, src_dir_fd=folder, dst_dir_fd=folder)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=folder)
                raise
        except OSError as error:
            raise UnsafeCache(f"{self.folder}: cannot write in it ({error.strerror or error})") from None
        finally:
            os.close(folder)

    def forget(self) -> bool:
        """Deletes the token kept; False when there was none."""
        folder = self._checked_folder()
        if folder is None:
            return False
        try:
            os.unlink(self._name, dir_fd=folder)
        except FileNotFoundError:
            return False
        except OSError as error:
            raise UnsafeCache(f"{self.folder}: cannot delete in it ({error.strerror or error})") from None
        finally:
            os.close(folder)
        return True

    def _made_folder(self) -> int:
        """The folder, made if missing (0700), opened and checked as :meth:`_checked_folder`."""
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            self.folder.mkdir(mode=0o700)
        except FileExistsError:
            pass  # checked below, whatever it is
        except OSError as error:
            raise UnsafeCache(f"{self.folder}: cannot make it ({error.strerror or error})") from None
        folder = self._checked_folder()
        if folder is None:
            raise UnsafeCache(f"{self.folder}: cannot make it")
        return folder

    def _checked_folder(self) -> int | None:
        """The folder, opened (its descriptor: what is checked is what is written in, even if
        the path is swapped afterwards) once checked to be a real folder of the user's, closed
        to others; None when there is none."""
        try:
            folder = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafeCache(f"{self.folder} is not a folder (a file, or a symbolic link)") from None
            raise UnsafeCache(f"{self.folder}: cannot open it ({error.strerror or error})") from None
        found = os.fstat(folder)
        problem = None
        if found.st_uid != os.getuid():
            problem = "is not yours"
        elif found.st_mode & 0o077:
            problem = "is open to other users (chmod 700 it)"
        if problem is not None:
            os.close(folder)
            raise UnsafeCache(f"{self.folder} {problem}")
        return folder
