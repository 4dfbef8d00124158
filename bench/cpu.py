"""CPU accounting over one measured window (Linux /proc): time used by each process tree the
benchmark started, by the load generator, and by everything else on the machine. This shows
whether the generator or another workload, not the service, was what limited a run."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _process_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds used so far by the process and by its children that have
    ended and been waited for). Counting the waited-for children keeps what a short-lived process
    used: a database backend that ends inside the window (CONN_MAX_AGE recycles the Celery
    worker's connection every minute) is added to the postmaster when the postmaster reaps it."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        # After the command name: state, ppid, ...; utime, stime, cutime and cstime are the 12th to 15th.
        table[int(entry.name)] = (int(fields[1]), sum(int(value) for value in fields[11:15]) / TICKS_PER_SECOND)
    return table


def _tree_members(table: dict[int, tuple[int, float]], root: int) -> set[int]:
    members, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in table.items() if ppid == parent and pid not in members]
        members.update(children)
        frontier.extend(children)
    return members & table.keys()


def _machine_busy_seconds() -> float:
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND


def _own_and_reaped_children_seconds() -> float:
    """This process and the children it has waited for (wrk): the load generator's CPU."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime


class CpuMeter:
    """`roots` names the process trees to account separately, e.g. {"gunicorn": master_pid}."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots

    def _sample(self) -> dict:
        table = _process_table()
        return {
            "trees": {
                name: {pid: table[pid][1] for pid in _tree_members(table, root)} for name, root in self.roots.items()
            },
            "generator": _own_and_reaped_children_seconds(),
            "machine": _machine_busy_seconds(),
            "wall": time.monotonic(),
        }

    def start(self) -> None:
        self.before = self._sample()

    def stop(self, *, requests: int) -> dict:
        after, before = self._sample(), self.before
        # A tree's members after minus its members before: a process that ended in the window
        # leaves its part before (subtracted) and its whole (added to its parent when reaped).
        used = {
            name: sum(processes.values()) - sum(before["trees"][name].values())
            for name, processes in after["trees"].items()
        }
        used["generator"] = after["generator"] - before["generator"]
        wall = after["wall"] - before["wall"]
        machine = after["machine"] - before["machine"]
        ours = sum(used.values())
        used["other"] = max(machine - ours, 0.0)
        cores = len(os.sched_getaffinity(0))
        service_per_request = (ours - used["generator"]) / max(requests, 1)
        return {
            "percent_of_one_core": {name: round(100 * seconds / wall, 1) for name, seconds in used.items()},
            "machine_busy_percent": round(100 * machine / (wall * cores), 1),
            "app_cpu_ms_per_request": round(1000 * used.get("gunicorn", 0.0) / max(requests, 1), 2),
            "service_cpu_ms_per_request": round(1000 * service_per_request, 2),
            # What this machine could serve with nothing else on it (no load generator either): all
            # cores / the service's CPU (gunicorn, PostgreSQL, Redis) per request. An estimate, but
            # steadier than req/s when other work shares the machine.
            "cpu_bound_ceiling_requests_per_second": round(cores / service_per_request, 1)
            if service_per_request
            else None,
        }


def reference_loop_seconds(steps: int = 5_000_000) -> float:
    """CPU seconds a fixed pure-Python loop takes right now: a yardstick for the machine's current
    speed. On a shared host it drifts by a third or more within an hour for the same code; compare
    figures from runs whose yardsticks are close, or scale by them."""
    started, total = time.process_time(), 0
    for step in range(steps):
        total += step
    return round(time.process_time() - started, 3)


def wait_for_quiet(*, max_wait_seconds: float, busy_percent: float = 25.0) -> float:
    """Before a window, wait (bounded) until the machine is nearly idle: other people's work on a
    shared machine skews figures. Returns the last busy percentage seen (all cores)."""
    cores = len(os.sched_getaffinity(0))
    deadline = time.monotonic() + max_wait_seconds
    while True:
        before, started = _machine_busy_seconds(), time.monotonic()
        time.sleep(1.0)
        busy = 100 * (_machine_busy_seconds() - before) / ((time.monotonic() - started) * cores)
        if busy < busy_percent or time.monotonic() >= deadline:
            return round(busy, 1)
