"""Hub: keeps the watched workflows current from the change feed and pushes what changed.

One follower thread per watched workflow long-polls the link's change feed, merges the
changed jobs into the workflow's model and sends each subscriber (an open event stream)
only those jobs and the new counts; a thread for the workflows page polls the list once
a second. Nothing runs while nobody watches: a follower stops a while after its last
subscriber left (its model stays cached for the next page).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from .graph_view import Layout, layout
from .model import WorkflowModel, load_model
from .source import MonitorSource, WorkflowItem

#: A workflow's background read starts once its page's first view (counts and a page of
#: jobs, read by the store) was served (``prefetch``), or this long after anything else
#: asked for it: that view is not slowed by the read of a 100,000-job document competing
#: for the interpreter.
LOAD_DELAY = 1.0
#: Longest wait of one change-feed poll; a follower notices it should stop this often.
FEED_WAIT = 0.5
#: Shortest time between two events of a workflow: a busy workflow sends a few a second.
MIN_EVENT_GAP = 0.5
#: A follower rests at least this many times the CPU its last round took: whatever the
#: workflow's pace, one watched workflow costs at most about a tenth of a core. This bound,
#: not a lower priority (``nice``), keeps the monitor light: a niced monitor was starved
#: on a busy machine (first event 75 s late) while this one stays responsive.
FEED_COST_FACTOR = 10.0
#: While a workflow is read in the background, its page gets the counts this often.
LOADING_PERIOD = 1.0
#: Changed job rows sent in one event; beyond, the page re-reads its visible rows.
EVENT_ROWS_LIMIT = 500
#: A follower with no subscriber stops after this many seconds.
IDLE_STOP = 10.0
#: Workflow models kept in memory (a 100,000-job one holds a few tens of MB).
CACHED_MODELS = 4
#: Events waiting for a slow page; beyond, it gets one "resync" and re-reads.
QUEUE_LIMIT = 64
LIST_PERIOD = 1.0
#: The workflows list is read again after at least this many times its last read took: a
#: user with big running workflows (an aggregate over 100,000 jobs takes 40-150 ms) never
#: has a tenth of a core spent on an open list page.
LIST_COST_FACTOR = 10.0
#: An idle event stream sends a heartbeat this often (proxies, dead pages noticed).
HEARTBEAT = 15.0


@dataclass(eq=False)
class Subscriber:
    """An open event stream: an asyncio queue fed from the follower threads."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue())

    def push(self, event: dict[str, Any]) -> None:
        """Thread-safe; a page that cannot keep up gets one resync instead of a backlog."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: the page is gone
            self.loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: dict[str, Any]) -> None:
        if self.queue.qsize() >= QUEUE_LIMIT:
            while not self.queue.empty():
                self.queue.get_nowait()
            event = {"type": "resync"}
        self.queue.put_nowait(event)


class _Channel:
    """Subscribers of one topic and the thread feeding them."""

    def __init__(self, name: str, run: Callable[[_Channel], None]) -> None:
        self.name = name
        self.subscribers: set[Subscriber] = set()
        self.lock = threading.Lock()
        self.last_seen = time.monotonic()
        self._run = run
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()

    def add(self, subscriber: Subscriber) -> None:
        with self.lock:
            self.subscribers.add(subscriber)
            self.last_seen = time.monotonic()
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, args=(self,), name=f"swf-monitor-{self.name}", daemon=True
                )
                self.thread.start()

    def remove(self, subscriber: Subscriber) -> None:
        with self.lock:
            self.subscribers.discard(subscriber)
            self.last_seen = time.monotonic()

    def idle(self) -> bool:
        """True (and the thread forgotten) when nobody listened for IDLE_STOP seconds."""
        if self.stopping.is_set():
            return True
        with self.lock:
            if self.subscribers or time.monotonic() - self.last_seen < IDLE_STOP:
                return False
            self.thread = None
            return True

    def send(self, event: dict[str, Any]) -> None:
        with self.lock:
            targets = list(self.subscribers)
        for subscriber in targets:
            subscriber.push(event)


class Hub:
    """The monitor's live state: workflow models, followers and the workflows list."""

    def __init__(self, source: MonitorSource) -> None:
        self.source = source
        self._models: OrderedDict[int, WorkflowModel] = OrderedDict()
        self._layouts: dict[int, Layout] = {}
        self._load_locks: dict[int, threading.Lock] = {}
        #: Workflows whose background read is under way or due (set: start it now), and
        #: why one failed.
        self._loading: dict[int, threading.Event] = {}
        self._load_errors: dict[int, str] = {}
        self._lock = threading.Lock()
        self._channels: dict[str, _Channel] = {}
        self.items: list[WorkflowItem] = []

    # -- models -----------------------------------------------------------------------
    def model(self, workflow_id: int) -> WorkflowModel:
        """The workflow's model, read once (document + every job) then kept current."""
        with self._lock:
            model = self._models.get(workflow_id)
            if model is not None:
                self._models.move_to_end(workflow_id)
                return model
            load_lock = self._load_locks.setdefault(workflow_id, threading.Lock())
        with load_lock:
            with self._lock:
                if workflow_id in self._models:
                    return self._models[workflow_id]
            model = load_model(self.source, workflow_id)
            self._refresh(model)
            with self._lock:
                self._models[workflow_id] = model
                while len(self._models) > CACHED_MODELS:
                    old, _ = self._models.popitem(last=False)
                    self._layouts.pop(old, None)
                    self.source.forget(old)
            return model

    def _refresh(self, model: WorkflowModel, wait: float = 0.0, block: bool = True) -> bool:
        """Merge the changes committed since the model's last read, and push them to the
        workflow's event streams. One refresh at a time per model: without ``block``, a
        refresh under way (the follower's long poll) is left to deliver. True when
        something changed."""
        if not model.refresh_lock.acquire(blocking=block):
            return False
        try:
            version = model.version
            if wait > 0:
                batch = self.source.wait_changes(model.workflow_id, model.since, wait)
            else:
                batch = self.source.changes(model.workflow_id, model.since)
            changed = model.apply(batch.facts, batch.workflow_status)
            model.since = batch.since
            if model.version == version:
                return False
            # Sent under the lock: two refreshes (a follower's, a page's read) push their
            # events in the order they changed the model, never an older summary last.
            with self._lock:
                channel = self._channels.get(f"workflow:{model.workflow_id}")
            if channel is not None:
                channel.send(self._workflow_event(model, changed))
            return True
        finally:
            model.refresh_lock.release()

    def loaded(self, workflow_id: int) -> WorkflowModel | None:
        """The model if it is loaded (kept current), else None and its load started in
        the background: a page first shows what the link reads without it."""
        with self._lock:
            model = self._models.get(workflow_id)
        if model is not None:
            return self.current(workflow_id)
        self._start_load(workflow_id)
        return None

    def prefetch(self, workflow_id: int) -> None:
        """Read the workflow in the background now (its page's first view was served)."""
        self._start_load(workflow_id, 0.0)

    def _start_load(self, workflow_id: int, delay: float = LOAD_DELAY) -> None:
        """Read the workflow in the background, ``delay`` from now, once at a time."""
        with self._lock:
            if workflow_id in self._models:
                return
            wake = self._loading.get(workflow_id)
            fresh = wake is None
            if wake is None:
                wake = self._loading[workflow_id] = threading.Event()
        if delay <= 0:
            wake.set()
        if fresh:
            threading.Thread(
                target=self._load_after, args=(workflow_id, wake, delay), daemon=True
            ).start()

    def _load_after(self, workflow_id: int, wake: threading.Event, delay: float) -> None:
        wake.wait(delay)
        self._load_quietly(workflow_id)

    def _load_quietly(self, workflow_id: int) -> None:
        """A background load; its error (a deleted workflow) goes to the followers."""
        try:
            self.model(workflow_id)
            error = None
        except Exception as failure:
            error = str(failure)
        with self._lock:
            self._loading.pop(workflow_id, None)
            if error is None:
                self._load_errors.pop(workflow_id, None)
            else:
                self._load_errors[workflow_id] = error

    def current(self, workflow_id: int) -> WorkflowModel:
        """The model with the changes committed so far (what every read answers from)."""
        model = self.model(workflow_id)
        self._refresh(model, block=False)
        return model

    def layout(self, workflow_id: int) -> Layout:
        model = self.model(workflow_id)
        with self._lock:
            shape = self._layouts.get(workflow_id)
        if shape is None:
            shape = layout(model)
            with self._lock:
                self._layouts[workflow_id] = shape
        return shape

    def drop(self, workflow_id: int) -> None:
        """Forget a deleted workflow."""
        with self._lock:
            self._models.pop(workflow_id, None)
            self._layouts.pop(workflow_id, None)
        self.source.forget(workflow_id)

    # -- event streams ----------------------------------------------------------------
    def events(
        self, topic: str, first: dict[str, Any] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The events of ``topic`` ("workflows" or "workflow:<id>") until the page leaves,
        ``first`` first: sent at once, it cannot wait for a busy follower thread.

        Subscribed now, before the stream answers: a page reads its snapshot once it hears
        the stream is open, so no change can fall between that snapshot and the stream.
        Call it from the event loop, and iterate what it returns (that unsubscribes)."""
        subscriber = Subscriber(asyncio.get_running_loop())
        if first is not None:
            subscriber.queue.put_nowait(first)
        channel = self._channel(topic)
        channel.add(subscriber)
        return self._drain(channel, subscriber)

    @staticmethod
    async def _drain(channel: _Channel, subscriber: Subscriber) -> AsyncIterator[dict[str, Any]]:
        try:
            while True:
                try:
                    yield await asyncio.wait_for(subscriber.queue.get(), HEARTBEAT)
                except TimeoutError:
                    yield {"type": "heartbeat"}
        finally:
            channel.remove(subscriber)

    def _channel(self, topic: str) -> _Channel:
        with self._lock:
            channel = self._channels.get(topic)
            if channel is None:
                run = self._follow_list if topic == "workflows" else self._follow_workflow
                channel = self._channels[topic] = _Channel(topic, run)
            return channel

    def close(self) -> None:
        with self._lock:
            channels = list(self._channels.values())
        for channel in channels:
            channel.stopping.set()
        for channel in channels:
            if channel.thread is not None:
                channel.thread.join(timeout=2 * FEED_WAIT + 1)

    # -- followers --------------------------------------------------------------------
    def _follow_workflow(self, channel: _Channel) -> None:
        workflow_id = int(channel.name.split(":", 1)[1])
        loading: _LoadingFeed | None = _LoadingFeed(self.source, workflow_id, channel)
        while not channel.idle():
            started, cpu = time.monotonic(), time.thread_time()
            with self._lock:
                model = self._models.get(workflow_id)
                failed = self._load_errors.pop(workflow_id, None)
            if failed is not None:
                channel.send({"type": "error", "message": failed})
                channel.stopping.wait(1.0)
            elif model is None:  # read in the background; meanwhile counts from the store
                self._start_load(workflow_id)
                if loading is not None:
                    loading.send_if_due()
                channel.stopping.wait(0.1)
            else:
                loading = None
                self._follow_round(model, channel)
                _rest(channel, started, time.thread_time() - cpu)

    def _follow_round(self, model: WorkflowModel, channel: _Channel) -> None:
        """One long poll of the change feed (its events sent by ``_refresh``)."""
        try:
            self._refresh(model, wait=FEED_WAIT)
        except Exception as error:  # deleted, or the engine is unreachable a moment
            channel.send({"type": "error", "message": str(error)})
            channel.stopping.wait(1.0)

    def first_event(self, workflow_id: int) -> dict[str, Any]:
        """The event a workflow page's stream opens with: its counts now (UnknownObjectError
        when it is gone). Read by the request itself, so that at 100,000 jobs it is not
        queued behind the follower's reads (it came 6.9 s after the stream opened)."""
        summary = self.source.summary(workflow_id)
        with self._lock:
            model = self._models.get(workflow_id)
        if model is not None:
            summary = model.summary()
        return {"type": "workflow", "summary": summary, "rows": [], "more": False, "groups": {}}

    def _workflow_event(self, model: WorkflowModel, changed: list[int]) -> dict[str, Any]:
        groups: set[int] = set()
        for index in changed:
            groups.update(model.job_groups[index])
        with model.lock:
            group_counts = {
                node_id: {s: n for s, n in model.groups[node_id].counts.items() if n}
                for node_id in groups
            }
        rows = model.changed_rows(changed[:EVENT_ROWS_LIMIT])
        return {
            "type": "workflow",
            "summary": model.summary(),
            "rows": rows,
            "more": len(changed) > EVENT_ROWS_LIMIT,
            "groups": group_counts,
        }

    def warm_up(self) -> None:
        """A first read through the link (what the first page would otherwise wait for)."""
        with contextlib.suppress(Exception):
            self.list_items()

    def list_items(self) -> list[WorkflowItem]:
        """The workflows now, with their counts and dates (one aggregate read)."""
        items = self.source.workflow_items()
        self.items = items
        return items

    def _follow_list(self, channel: _Channel) -> None:
        last: list[dict[str, Any]] | None = None
        while not channel.idle():
            rows: list[dict[str, Any]] | None
            started = time.monotonic()
            try:
                rows = [item.as_json() for item in self.list_items()]
            except Exception as error:
                channel.send({"type": "error", "message": str(error)})
                rows = last
            if rows != last and rows is not None:
                channel.send({"type": "workflows", "workflows": rows})
                last = rows
            took = time.monotonic() - started
            channel.stopping.wait(max(LIST_PERIOD, LIST_COST_FACTOR * took) - took)


def _rest(channel: _Channel, started: float, cpu: float) -> None:
    """Wait out the event gap, and FEED_COST_FACTOR times the CPU the round took."""
    elapsed = time.monotonic() - started
    channel.stopping.wait(max(MIN_EVENT_GAP - elapsed, FEED_COST_FACTOR * cpu))


class _LoadingFeed:
    """Events for a page whose workflow is still being read: its counts, from one
    aggregate read of the store, once a second when they changed (the job table
    re-reads its page). The stream's first event came with the stream itself."""

    def __init__(self, source: MonitorSource, workflow_id: int, channel: _Channel) -> None:
        self.source = source
        self.workflow_id = workflow_id
        self.channel = channel
        self.due = time.monotonic() + LOADING_PERIOD
        self.last: dict[str, Any] | None = None

    def send_if_due(self) -> None:
        """Not bounded by FEED_COST_FACTOR: the read lasts seconds, and after the first few
        aggregates the list's tally answers from the change feed (cheap)."""
        started = time.monotonic()
        if started < self.due:
            return
        summary: dict[str, Any] | None = None
        with contextlib.suppress(Exception):  # the background read reports the error
            summary = self.source.summary(self.workflow_id)
        self.due = started + LOADING_PERIOD
        if summary is not None and summary != self.last:
            self.last = summary
            event = {"type": "workflow", "summary": summary, "rows": [], "more": True}
            self.channel.send({**event, "groups": {}})
