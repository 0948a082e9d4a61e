"""Starting a job: find ``mpiexec`` and run ``python -m chainrule ...`` in N processes.

``pip install mpich`` puts ``mpiexec`` in the scripts folder of the Python that installed it
(``.venv/bin`` in a virtual environment), which need not be on PATH; ``find_mpiexec`` looks
there first, then on PATH.

When a process of the job is killed, MPICH's mpiexec stops the others and prints a banner that
names the process id only; ``launch`` prints instead one line naming the rank (each process
writes its rank and process id to a folder the launcher gives it in ``CHAINRULE_RANKS``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Sequence

from chainrule.distributed.comm import RANKS_VARIABLE

__all__ = ["find_mpiexec", "launch"]

_BANNER = re.compile(r"^(=+|=   .*|YOUR APPLICATION TERMINATED.*|This typically refers to a "
                     r"problem with your application\.|Please see the FAQ page for debugging "
                     r"suggestions)$")
_DEAD = re.compile(r"PID (\d+) RUNNING AT (\S+)")
_EXIT = re.compile(r"(?:EXIT CODE|EXIT STRING): (.*)")


def find_mpiexec() -> str | None:
    """The ``mpiexec`` to use: beside this Python (where ``pip install mpich`` puts it), in its
    scripts folder, or on PATH; None when there is none."""
    folders = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]
    for folder in folders:
        candidate = folder / "mpiexec"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("mpiexec")


def launch(nproc: int, arguments: Sequence[str], hostfile: str | None = None,
           program: str = "chainrule") -> int:
    """Run ``python -m chainrule ARGUMENTS`` in ``nproc`` processes under ``mpiexec`` (with
    ``-f HOSTFILE`` when given: MPICH's list of machines, one ``host[:processes]`` a line), and
    return its exit status. Output passes through as it comes. (Each process's BLAS threads
    are its share of its machine's cores: see ``chainrule.threads``.)

    Raises:
        FileNotFoundError: no mpiexec (the message says how to install one).
    """
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise FileNotFoundError(f"{program} --nproc needs mpiexec, which was found neither "
                                f"beside {sys.executable} nor on PATH; install it with: "
                                "python3 -m pip install 'chainrule[distributed]'")
    command = [mpiexec, "-n", str(nproc)]
    if hostfile is not None:
        command += ["-f", str(hostfile)]
    command += [sys.executable, "-m", "chainrule", *arguments]
    environment = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="chainrule-ranks-") as folder:
        environment[RANKS_VARIABLE] = folder
        process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, text=True, bufsize=1)
        banner: list[str] = []
        try:
            for line in process.stdout:
                if _BANNER.match(line.rstrip("\n")):
                    banner.append(line)  # mpiexec's notice that a process died: said below
                else:
                    sys.stdout.write(line)
                    sys.stdout.flush()
            status = process.wait()
        except KeyboardInterrupt:  # mpiexec got the signal too and passes it on
            process.send_signal(signal.SIGINT)
            status = process.wait()
        if banner:
            print(_death_line(banner, Path(folder), program, status), file=sys.stderr,
                  flush=True)
    return status


def _death_line(banner: list[str], folder: Path, program: str, status: int) -> str:
    text = "".join(banner)
    dead, how = _DEAD.search(text), _EXIT.findall(text)
    reason = how[-1].strip() if how else f"exit status {status}"
    if dead is None:
        return f"{program}: error: a process of the job ended abnormally ({reason})"
    pid, host = dead.groups()
    ranks = {}
    for path in folder.glob("rank-*"):
        fields = path.read_text().split()
        if fields:
            ranks[fields[0]] = path.name.split("-", 1)[1]
    who = f"rank {ranks[pid]}" if pid in ranks else "a process"
    return (f"{program}: error: {who} (pid {pid} on {host}) ended abnormally ({reason}); the "
            "other processes were stopped")
