"""The decision log: one JSON line per decision, written off the request path.

A request only puts a small record on a bounded queue; a background thread masks, serialises and
writes it. When the queue is full the record is dropped and counted (`AuditLog.dropped`): an audit
sink that stalls must never stall or fail the requests it describes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any, TextIO

MASK = "***"
DEFAULT_MASK = ("arguments", "headers")

_STOP = object()


class AuditLog:
    """Decision log sinks and masking.

    logger: a `logging.Logger` or a logger name (default "zt_policy.decisions", at INFO), or None.
    path: a file to append JSON lines to (opened once, flushed after each batch), or None.
    sink: any callable taking one JSON line (no newline), e.g. a message queue producer.
    mask: record fields whose values are replaced by "***"; a mapping (arguments, headers) keeps its
        keys and masks each value; dotted paths reach inside ("arguments.prompt").
        Arguments and headers are masked by default.
    redact: record fields removed altogether (e.g. "subject" where subjects are personal data).
    max_queue: records waiting to be written; beyond it new records are dropped and counted.
    """

    def __init__(
        self,
        *,
        logger: logging.Logger | str | None = "zt_policy.decisions",
        path: str | os.PathLike[str] | None = None,
        sink: Callable[[str], object] | None = None,
        mask: Iterable[str] = DEFAULT_MASK,
        redact: Iterable[str] = (),
        max_queue: int = 10_000,
    ) -> None:
        self._logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self._file: TextIO | None = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        self._sink = sink
        self._mask = tuple(tuple(m.split(".")) for m in mask)
        self._redact = tuple(tuple(r.split(".")) for r in redact)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self.dropped = 0  # records lost because the queue was full
        self.written = 0
        self.failed = 0  # records a sink raised on
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="zt-policy-audit", daemon=True)
        self._thread.start()

    def submit(self, record: dict[str, Any]) -> None:
        """Queue one record; never blocks, never raises."""
        if self._closed:
            self.dropped += 1
            return
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued record is written (for tests and shutdown); True when done."""
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout)
        if self._file is not None:
            self._file.close()

    def render(self, record: dict[str, Any]) -> str:
        """The JSON line for one record, masked and redacted."""
        for path in self._redact:
            _apply(record, path, None)
        for path in self._mask:
            _apply(record, path, MASK)
        return json.dumps(record, default=repr, separators=(",", ":"), ensure_ascii=False)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch = [item]
            while len(batch) < 512:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = False
            for rec in batch:
                if rec is _STOP:
                    stop = True
                elif isinstance(rec, threading.Event):
                    self._flush_file()
                    rec.set()
                elif isinstance(rec, dict):
                    self._write(rec)
            self._flush_file()
            if stop:
                return

    def _write(self, record: dict[str, Any]) -> None:
        try:
            record["time"] = datetime.fromtimestamp(record["time"], timezone.utc).isoformat(
                timespec="microseconds").replace("+00:00", "Z")
            line = self.render(record)
            if self._logger is not None:
                self._logger.info(line)
            if self._file is not None:
                self._file.write(line + "\n")
            if self._sink is not None:
                self._sink(line)
            self.written += 1
        except Exception:  # a broken sink loses records, never the writer thread
            self.failed += 1

    def _flush_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.flush()


def _apply(record: dict[str, Any], path: tuple[str, ...], mask: str | None) -> None:
    """Mask (or, with None, remove) the field at `path`; a mapping keeps its keys."""
    parent: Any = record
    for step in path[:-1]:  # copy on the way down: the values are the caller's own mappings
        child = parent.get(step)
        if not isinstance(child, dict):
            return
        parent[step] = parent = dict(child)
    if not isinstance(parent, dict) or path[-1] not in parent:
        return
    if mask is None:
        del parent[path[-1]]
        return
    value = parent[path[-1]]
    if isinstance(value, dict):
        parent[path[-1]] = {k: mask for k in value}
    elif value is not None:
        parent[path[-1]] = mask
