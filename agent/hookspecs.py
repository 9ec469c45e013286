"""Hook specifications: every hook an InferSight plugin can implement.

Grouped by lifecycle. Each hook says when it is called, on which thread, and what a
return value means. A plugin implements a hook by defining a method (or module
function) of the same name, with ``@hookimpl`` or without; it may take any subset of
the hook's arguments, by name. A method named ``infersight_*`` that is not a hook below
is rejected at registration, with the closest valid name. Hooks called on the worker or a delivery thread must not block
for long: the worker serves every plugin in turn, so a slow hook delays the others
(never the model). A hook that raises is logged with the plugin and hook names,
counted in ``ml.agent.plugin_errors`` and, after repeated failures, its plugin is
disabled; the exception never reaches the model's caller nor stops other plugins.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import pluggy

from agent._types import (
    ArtifactIdentity,
    Channel,
    FeedbackEvent,
    ModelInfo,
    Notification,
    RecordBatch,
    Signal,
    TrainingRecord,
)

if TYPE_CHECKING:
    from agent._runtime import PluginContext

PROJECT = "infersight"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- lifecycle: start ---------------------------------------------------------------


@hookspec(historic=True)
def infersight_configure(config: dict[str, Any], agent: PluginContext) -> None:
    """Called once at ``agent.init``, before any other hook, while ``init`` waits for it.

    It runs on a short-lived helper thread (so ``agent.plugin_configure_timeout`` can bound
    it); do not call back into ``agent.init``, ``agent.shutdown`` or ``agent.record_artifact``.

    ``config`` is the resolved configuration as plain data; a plugin reads its own
    section with ``agent.section(name)`` and validates it, raising ``ConfigError``
    (naming the key path) for bad values: that error fails ``init``. Historic: a
    plugin registered after init (``agent.register_plugin``) is configured on
    registration. Bounded by ``agent.plugin_configure_timeout``: a plugin that blocks
    here is disabled and ``init`` goes on without it.
    """


# -- command line (no agent running) --------------------------------------------------


@hookspec
def infersight_add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Called by the ``infersight`` command on the main thread, before it parses arguments.

    Add subcommands with ``subparsers.add_parser(name, help=...)`` and set
    ``func=callable(args) -> int`` as its default; the int is the exit code (0 = fine,
    1 = the command found a problem, 2 = bad input). No agent is running and
    ``infersight_configure`` has not been called: commands read files, not live state.
    Every installed plugin is asked, whatever the config enables.
    """


# -- data path (worker thread) ------------------------------------------------------


@hookspec
def infersight_set_reference(model: ModelInfo, records: RecordBatch) -> None:
    """Called on the worker thread when reference (training) data is set for ``model``.

    Plugins summarise the reference once here (sorted values, bins, kernel statistics)
    so that later window tests do not redo the work.
    """


@hookspec
def infersight_process_records(model: ModelInfo, records: RecordBatch) -> None:
    """Called on the worker thread with each batch of captured rows of ``model``.

    Rows arrive in capture order. The batch is columnar (see ``RecordBatch``); plugins
    must not keep references to more rows than their bounded windows hold.
    """


@hookspec
def infersight_artifact_recorded(model: ModelInfo, artifact: ArtifactIdentity) -> None:
    """Called on the worker thread when ``agent.record_artifact`` identified ``model``'s artifact.

    Artifacts recorded before ``init`` are delivered right after configuration. The
    health plugin compares ``artifact.digest`` with the model's ``expected_digest``.
    """


@hookspec
def infersight_training_recorded(model: ModelInfo, training: TrainingRecord) -> None:
    """Called on the worker thread when ``agent.record_training`` recorded a retraining of ``model``.

    In order with the calls around it. The performance plugin tracks performance against
    model age per version and recommends when to retrain.
    """


@hookspec
def infersight_process_feedback(model: ModelInfo, events: list[FeedbackEvent]) -> None:
    """Called on the worker thread with each batch of feedback events for ``model``.

    Events are already durable (written to the feedback store) when this is called.
    ``label`` events carry ground truth; the drift plugin uses them for label drift.
    """


# -- evaluation (worker thread, on each tick) ---------------------------------------


@hookspec
def infersight_collect_signals(model: ModelInfo, now: float) -> list[Signal] | None:
    """Called on the worker thread once per tick per model; returns new Signals or None.

    ``now`` is the tick's wall-clock time (seconds since the epoch). Time-based windows
    close here. Return only signals produced since the last call.
    """


@hookspec
def infersight_handle_signals(signals: list[Signal], now: float) -> None:
    """Called on the worker thread once per tick with every Signal collected in it.

    The alert engine implements this: it evaluates rules and queues notifications
    for delivery; it must not deliver them itself.
    """


# -- delivery (a notifier's delivery thread) ----------------------------------------


@hookspec(firstresult=True)
def infersight_notify(notification: Notification, channel: Channel) -> bool | None:
    """Called on the alert delivery thread to deliver ``notification`` to ``channel``.

    Return ``None`` when this plugin does not handle ``channel.type`` (the next plugin
    is asked); return ``True`` when delivered. Raise on a delivery failure (``DeliveryError``
    says whether a retry can help): the caller retries with backoff and keeps the
    notification in the outbox. Called through the host's guard with a time limit
    (``PluginContext.notify``): a notifier that raises or blocks costs only its own channel.
    """


# -- lifecycle: stop ----------------------------------------------------------------


@hookspec
def infersight_shutdown(agent: PluginContext) -> None:
    """Called once at ``agent.shutdown`` on the worker thread after the last batch; flush state."""
