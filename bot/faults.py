"""Fault injection: die at a named point so tests can prove crash safety.

The delivery guarantee (nothing lost, nothing sent twice) is only as good as the worst moment to
die. `checkpoint(name)` kills the current process with SIGKILL (no cleanup, no `finally`, no
atexit: for the database the same as a power cut, minus the OS cache) when the environment
variable `NEWSBOT_CRASH_AT` equals `name` (or `name@N`: at its N-th pass). In production the
variable is unset and a checkpoint costs one dictionary lookup.

Checkpoint names in use (stage.moment):
- dedup: `dedup.after_item_insert`, `dedup.before_commit`, `dedup.after_commit`
- store delivery: `store.after_claim` (alerts claimed, before anything is sent),
  `store.before_mark` (the caller has sent, the outbox row is not yet marked),
  `store.after_mark` (marked sent and committed)
- deliverers may add `deliver.before_send` and `deliver.after_send` around their own send call.
"""

from __future__ import annotations

import os
import signal

ENV = "NEWSBOT_CRASH_AT"

DEDUP_AFTER_ITEM_INSERT = "dedup.after_item_insert"
DEDUP_BEFORE_COMMIT = "dedup.before_commit"
DEDUP_AFTER_COMMIT = "dedup.after_commit"
STORE_AFTER_CLAIM = "store.after_claim"
STORE_BEFORE_MARK = "store.before_mark"
STORE_AFTER_MARK = "store.after_mark"
DELIVER_BEFORE_SEND = "deliver.before_send"
DELIVER_AFTER_SEND = "deliver.after_send"

ALL = (
    DEDUP_AFTER_ITEM_INSERT,
    DEDUP_BEFORE_COMMIT,
    DEDUP_AFTER_COMMIT,
    STORE_AFTER_CLAIM,
    STORE_BEFORE_MARK,
    STORE_AFTER_MARK,
    DELIVER_BEFORE_SEND,
    DELIVER_AFTER_SEND,
)


_hits: dict[str, int] = {}


def checkpoint(name: str) -> None:
    """SIGKILL this process if `NEWSBOT_CRASH_AT` names this point; otherwise do nothing.

    `NEWSBOT_CRASH_AT=name` dies at the first pass, `name@3` at the third (to die in the
    middle of a batch rather than at its start).
    """
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    target, _, nth = wanted.partition("@")
    if target != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
