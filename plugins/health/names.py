"""Every name the health plugin emits: metrics, signals, log events and attributes.

Process, system and GPU metrics follow the OpenTelemetry semantic conventions (checked
against ``opentelemetry-semantic-conventions`` 0.66b2, where
``process.open_file_descriptor.count`` is deprecated in favour of
``process.unix.file_descriptor.count`` and runtime GC metrics moved from
``process.runtime.cpython.*`` to ``cpython.gc.*``). Where no convention exists (GC
pause time, deployment identity, the heartbeat) the names live under ``ml.``. Log-event
attribute keys are namespaced too (``ml.model.name``, ``ml.dependency.package``,
``ml.path.location``); Signal labels stay short (``model``, ``package``) because alert
rules match them by those names.
"""

from __future__ import annotations

from typing import Final

from agent import semconv

# -- process metrics (semconv) --------------------------------------------------------
PROCESS_CPU_TIME: Final = "process.cpu.time"
PROCESS_CPU_UTILIZATION: Final = "process.cpu.utilization"
PROCESS_MEMORY_USAGE: Final = "process.memory.usage"
PROCESS_MEMORY_VIRTUAL: Final = "process.memory.virtual"
PROCESS_FD_COUNT: Final = "process.unix.file_descriptor.count"
PROCESS_THREAD_COUNT: Final = "process.thread.count"
CPYTHON_GC_COLLECTIONS: Final = "cpython.gc.collections"
CPYTHON_GC_COLLECTED: Final = "cpython.gc.collected_objects"
CPYTHON_GC_UNCOLLECTABLE: Final = "cpython.gc.uncollectable_objects"
# No convention measures collector pauses for CPython; ours is a cumulative counter so
# rate() gives the share of wall time spent in GC.
GC_PAUSE_TIME: Final = "ml.runtime.gc.pause_time"

# -- system metrics (semconv) ---------------------------------------------------------
SYSTEM_CPU_UTILIZATION: Final = "system.cpu.utilization"
SYSTEM_MEMORY_USAGE: Final = "system.memory.usage"
SYSTEM_MEMORY_LIMIT: Final = "system.memory.limit"
SYSTEM_MEMORY_UTILIZATION: Final = "system.memory.utilization"
SYSTEM_FILESYSTEM_USAGE: Final = "system.filesystem.usage"
SYSTEM_FILESYSTEM_UTILIZATION: Final = "system.filesystem.utilization"

# -- GPU metrics (semconv hardware namespace) -----------------------------------------
HW_GPU_UTILIZATION: Final = "hw.gpu.utilization"
HW_GPU_MEMORY_USAGE: Final = "hw.gpu.memory.usage"
HW_GPU_MEMORY_LIMIT: Final = "hw.gpu.memory.limit"
HW_GPU_MEMORY_UTILIZATION: Final = "hw.gpu.memory.utilization"
HW_TEMPERATURE: Final = "hw.temperature"

# -- semconv attributes ---------------------------------------------------------------
ATTR_CPU_MODE: Final = "cpu.mode"
ATTR_GC_GENERATION: Final = "cpython.gc.generation"
ATTR_MEMORY_STATE: Final = "system.memory.state"
ATTR_FS_STATE: Final = "system.filesystem.state"
ATTR_FS_MOUNTPOINT: Final = "system.filesystem.mountpoint"
ATTR_HW_ID: Final = "hw.id"
ATTR_HW_NAME: Final = "hw.name"
ATTR_HW_TYPE: Final = "hw.type"
ATTR_HW_VENDOR: Final = "hw.vendor"
ATTR_HW_GPU_TASK: Final = "hw.gpu.task"

ATTR_RUNTIME_VERSION: Final = "process.runtime.version"  # the interpreter's version (ml.dependency.inventory)
ATTR_ERROR_MESSAGE: Final = "error.message"  # what the OS or the import said (log events)

# -- our own metrics ------------------------------------------------------------------
AGENT_UP: Final = "ml.agent.up"
DEPENDENCY_INFO: Final = "ml.dependency.info"
COLLECTION_FAILURES: Final = "ml.agent.health.collection_failures"  # counter {failure}: ATTR_INSTRUMENT

# -- our own attributes (metric and log-event attributes) -----------------------------
ATTR_START_TIME: Final = "ml.agent.start_time"
ATTR_MODEL: Final = semconv.ATTR_MODEL_NAME
ATTR_VERSION: Final = semconv.ATTR_MODEL_VERSION
ATTR_ARTIFACT_SHA256: Final = semconv.ATTR_ARTIFACT_SHA256  # as on the model's spans
ATTR_ARTIFACT_SIZE: Final = "ml.model.artifact.size"  # bytes
ATTR_ARTIFACT_PATH: Final = "ml.model.artifact.path"  # absent when the artifact was given as bytes
ATTR_MISMATCH_KIND: Final = "ml.deployment.kind"  # digest | version
ATTR_EXPECTED: Final = "ml.deployment.expected"  # the pin
ATTR_ACTUAL: Final = "ml.deployment.actual"  # what is deployed
ATTR_PACKAGE: Final = "ml.dependency.package"
ATTR_PACKAGE_VERSION: Final = "ml.dependency.version"  # installed version
ATTR_PACKAGE_PIN: Final = "ml.dependency.pin"  # the [health] pins entry
ATTR_PACKAGES: Final = "ml.dependency.packages"  # {package: version} of the inventory
ATTR_PATH: Final = "ml.path.location"  # a path the agent cannot use
ATTR_PATH_ROLE: Final = "ml.path.role"  # what it is for: "data directory", "models.NAME.artifact", ...
ATTR_PATH_ACCESS: Final = "ml.path.access"  # read | write
ATTR_INSTRUMENT: Final = "ml.agent.health.instrument"  # the metric whose reading failed

# -- signals --------------------------------------------------------------------------
SIGNAL_DIGEST_MISMATCH: Final = "ml.deployment.digest_mismatch"
SIGNAL_VERSION_MISMATCH: Final = "ml.deployment.version_mismatch"
SIGNAL_DEPENDENCY_MISMATCH: Final = "ml.dependency.version_mismatch"
SIGNAL_IMPORT_ERROR: Final = "ml.dependency.import_error"
SIGNAL_PATH_PROBLEM: Final = "ml.agent.path_problem"

# -- log events -----------------------------------------------------------------------
EVENT_ARTIFACT: Final = "ml.deployment.artifact"
EVENT_DEPLOYMENT_MISMATCH: Final = "ml.deployment.mismatch"
EVENT_INVENTORY: Final = "ml.dependency.inventory"
EVENT_DEPENDENCY_MISMATCH: Final = "ml.dependency.mismatch"
EVENT_IMPORT_ERROR: Final = "ml.dependency.import_error"
EVENT_PATH_PROBLEM: Final = "ml.agent.path_problem"
EVENT_COLLECTION_FAILED: Final = "ml.agent.health.collection_failed"  # once per failing instrument

# -- Signal labels (short, as alert rules match them: model="fraud") --------------------
LABEL_MODEL: Final = "model"
LABEL_PACKAGE: Final = "package"
LABEL_PATH: Final = "path"
LABEL_ROLE: Final = "role"
LABEL_ACCESS: Final = "access"
