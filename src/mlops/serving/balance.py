"""How many connections each worker holds, in memory the master shares with its workers.

A sync worker takes one connection per request, so the kernel hands each request to whichever
worker is free. A threaded worker keeps connections open between requests, and a client that
holds a few open (a load balancer, a benchmark) may find all of them on one worker while the
other idles. With this table a worker that holds more connections than the least busy one takes
no new connection, and one that holds two more asks a client to reconnect (`Connection: close`),
so open connections spread evenly over the workers.
"""

from __future__ import annotations

import multiprocessing
import os


class Peers:
    """One slot per worker process: its pid and its number of open connections."""

    def __init__(self, slots: int):
        self.size = slots
        self.pids = multiprocessing.RawArray("q", slots)
        self.counts = multiprocessing.RawArray("q", slots)
        self.lock = multiprocessing.Lock()
        self.slot: int | None = None  # this process's, once it has joined

    def join(self) -> None:
        """Take a free slot for this process (none if all are taken: it then just takes connections)."""
        pid = os.getpid()
        with self.lock:
            for index in range(self.size):
                if self.pids[index] in (0, pid):
                    self.pids[index], self.counts[index] = pid, 0
                    self.slot = index
                    return

    def leave(self, pid: int) -> None:
        """Free a worker's slot (the master calls it when a worker exits, however it exits)."""
        with self.lock:
            for index in range(self.size):
                if self.pids[index] == pid:
                    self.pids[index] = self.counts[index] = 0

    def publish(self, connections: int) -> None:
        if self.slot is not None:
            self.counts[self.slot] = connections

    def least_of_others(self) -> int | None:
        """The fewest connections another worker holds; None when this one is alone or has no slot."""
        pids, counts, slot = self.pids[:], self.counts[:], self.slot
        if slot is None:
            return None
        others = [count for index, (pid, count) in enumerate(zip(pids, counts, strict=True)) if pid and index != slot]
        return min(others) if others else None

    def may_take(self, connections: int) -> bool:
        """Whether a worker holding `connections` should take a new one: none holds fewer."""
        least = self.least_of_others()
        return least is None or connections <= least

    def holds_too_many(self, connections: int) -> bool:
        """Whether a worker should give one connection back: it holds two more than the least busy."""
        least = self.least_of_others()
        return least is not None and connections >= least + 2
