"""Leftovers of a killed trainer (SIGKILL, the OOM killer, a lost machine): its temp files and export folders
carry its pid, and the next run removes those whose process is gone, never a live one's. The names follow the
extension's (core/work-dirs.ts tempFileFor): `.NAME.<pid>-<random>.tmp`."""
import os
import re
import shutil
from typing import List


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, someone else's
        return True
    return True


def remove_stale(folder: str, pattern: "re.Pattern[str]") -> List[str]:
    """Removes the files and folders in `folder` whose name matches `pattern` (group 1: the owner's pid)
    when that process is gone; returns their paths."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for name in names:
        m = pattern.match(name)
        if not m or int(m.group(1)) == os.getpid() or pid_alive(int(m.group(1))):
            continue
        path = os.path.join(folder, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            removed.append(path)
        except OSError:
            pass  # gone already, or not ours to remove
    return removed


def temp_pattern(base: str) -> "re.Pattern[str]":
    """A temp of `base` (and a temp model's `.data`), as write_model_atomic and the extension's writer name them."""
    return re.compile(rf"^\.{re.escape(base)}\.(\d+)-[A-Za-z0-9_]+\.tmp(\.data)?$")


EXPORT_DIR = re.compile(r"^\.export-(\d+)-[A-Za-z0-9_]+$")
# _atomic_json / _atomic_torch_save in a run folder: NAME.tmp-<pid>
RUN_TEMP = re.compile(r"^.+\.tmp-(\d+)$")
