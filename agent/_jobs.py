"""Plugin work too long for one worker cycle, run in order on a thread of its own.

A drift window's tests take tens to hundreds of milliseconds (a permutation test over
thousands of rows), and inside a hook call the worker cannot slice them: while they run,
no capture is drained and no tick happens. A plugin hands such work to
``PluginContext.defer`` instead; this runner executes it FIFO on one daemon thread
("infersight-jobs"), guarded like a hook call (failures logged and counted against the
plugin, which is disabled when it keeps failing), while the worker goes on draining and
ticking. The queue is bounded per plugin: when a plugin's share is full ``submit`` returns
False and the plugin counts what it could not run (one plugin's backlog does not refuse
another's work). ``agent.flush()`` waits for the jobs queued before it, so a
flush still means "every window that closed has been tested".
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent._plugins import PluginHost

JOB_LIMIT = 64
"""Jobs of one plugin waiting at most. A batch of 10,000 rows closes ten 1,000-row windows at once, and
each waits for its tests: the limit must take such bursts whole, while bounding the memory the waiting
windows hold (64 windows of the plugin's size) when the worker produces faster than tests run."""


class Jobs:
    """A bounded FIFO of plugin work, run on one thread, each job guarded by the plugin host."""

    def __init__(self, host: PluginHost, limit: int = JOB_LIMIT) -> None:
        self._host = host
        self._limit = limit
        self._queue: deque[tuple[object, str, Callable[[], object]]] = deque()
        self._cv = threading.Condition()
        self._running = 0  # jobs taken from the queue and not finished
        self._waiting: dict[int, int] = {}  # queued jobs per plugin object (by id): each plugin has its own limit
        self._thread: threading.Thread | None = None
        self._stopped = False

    def submit(self, plugin: object, what: str, work: Callable[[], object]) -> bool:
        """Queue ``work`` of the ``plugin`` object (``what`` names it in error events); False when full or stopped."""
        with self._cv:
            if self._stopped or self._waiting.get(id(plugin), 0) >= self._limit:
                return False
            self._waiting[id(plugin)] = self._waiting.get(id(plugin), 0) + 1
            self._queue.append((plugin, what, work))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="infersight-jobs", daemon=True)
                self._thread.start()
            self._cv.notify_all()
        return True

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        with self._cv:
            return len(self._queue) + self._running

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every job queued so far has finished; False when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._queue or self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
        return True

    def stop(self, timeout: float) -> bool:
        """Run what is queued (bounded by ``timeout``), then stop taking work."""
        done = self.wait_idle(timeout)
        with self._cv:
            self._stopped = True
            self._queue.clear()
            self._waiting.clear()
            self._cv.notify_all()
        return done

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._stopped:
                    self._cv.wait()
                if self._stopped:
                    return
                plugin, what, work = self._queue.popleft()
                self._waiting[id(plugin)] -= 1
                self._running += 1
            try:
                self._host.run_guarded(plugin, what, work)
            finally:
                with self._cv:
                    self._running -= 1
                    self._cv.notify_all()
