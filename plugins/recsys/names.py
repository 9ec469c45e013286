"""Every name the recsys plugin emits: metrics, their attributes, log events and signals.

Metric and log attributes live under ``ml.recsys.`` (the core's ``ml.model.name`` and
``ml.model.version`` come from ``agent.semconv``); Signal labels use the short alert-rule
names (``model``, ``version``).

Accounting: ``ml.recsys.lists`` (shown lists received) = ``ml.recsys.lists_scored`` +
``ml.recsys.lists_dropped`` (by ``ml.recsys.reason``) once every window is closed (at
shutdown the open window's lists are dropped with reason ``shutdown``); ``ml.recsys.clicks``
= ``ml.recsys.clicks_attributed`` + ``ml.recsys.late_clicks`` + ``ml.recsys.unmatched_clicks``
(by reason) once no click waits for its list.
"""

from __future__ import annotations

from typing import Final

from agent.semconv import ATTR_MODEL_NAME, ATTR_MODEL_VERSION

# -- metrics: window measures (gauges 1 per scored window: model, version, traffic) ----------
COVERAGE: Final = "ml.recsys.coverage"
GINI: Final = "ml.recsys.gini"
ARP: Final = "ml.recsys.arp"
LONG_TAIL_SHARE: Final = "ml.recsys.long_tail_share"
HEAD_TAIL_CTR_RATIO: Final = "ml.recsys.head_tail_ctr_ratio"
CTR_BY_POSITION: Final = "ml.recsys.ctr_by_position"  # + position

# -- metrics: accounting ------------------------------------------------------------------------
LISTS: Final = "ml.recsys.lists"  # counter {list}: model, version (captured rows of ranking models)
LISTS_SCORED: Final = "ml.recsys.lists_scored"  # counter {list}: model, version
LISTS_DROPPED: Final = "ml.recsys.lists_dropped"  # counter {list}: model, version, reason
CLICKS: Final = "ml.recsys.clicks"  # counter {click}: feedback events of the click kinds received
CLICKS_ATTRIBUTED: Final = "ml.recsys.clicks_attributed"  # counter {click}: model, version
LATE_CLICKS: Final = "ml.recsys.late_clicks"  # counter {click}: model, version
UNMATCHED_CLICKS: Final = "ml.recsys.unmatched_clicks"  # counter {click}: reason (+ model when known)

# -- attributes ---------------------------------------------------------------------------------
ATTR_MODEL: Final = ATTR_MODEL_NAME
ATTR_VERSION: Final = ATTR_MODEL_VERSION
ATTR_TRAFFIC: Final = "ml.recsys.traffic"  # all | exploration | exploitation
ATTR_POSITION: Final = "ml.recsys.position"  # list position (0 = top) on ctr_by_position
ATTR_REASON: Final = "ml.recsys.reason"
# on ml.recsys.feedback_loop log events
ATTR_WINDOW: Final = "ml.recsys.window"  # index of the scored window
ATTR_GINI_CHANGE: Final = "ml.recsys.gini_change"
ATTR_COVERAGE_CHANGE: Final = "ml.recsys.coverage_change"
ATTR_TREND_WINDOWS: Final = "ml.recsys.trend_windows"

# -- log events ---------------------------------------------------------------------------------
EVENT_FEEDBACK_LOOP: Final = "ml.recsys.feedback_loop"  # info, one per window flagged as a loop

# -- signals ------------------------------------------------------------------------------------
SIGNAL_GINI: Final = "ml.recsys.gini"  # per scored window; labels model, version
SIGNAL_COVERAGE: Final = "ml.recsys.coverage"  # per scored window; labels model, version
SIGNAL_FEEDBACK_LOOP: Final = "ml.recsys.feedback_loop"  # 0/1 per scored window; labels model, version

# -- Signal labels (alert-rule names) -----------------------------------------------------------
LABEL_MODEL: Final = "model"
LABEL_VERSION: Final = "version"

# -- values of ml.recsys.traffic ------------------------------------------------------------------
TRAFFIC_ALL: Final = "all"
TRAFFIC_EXPLORATION: Final = "exploration"
TRAFFIC_EXPLOITATION: Final = "exploitation"

# -- values of ml.recsys.reason -------------------------------------------------------------------
LIST_NO_OUTPUT: Final = "no_output"  # the model's outputs were not captured
LIST_NOT_A_LIST: Final = "not_a_list"  # the output is no ranked list (nor {"items": [...]})
LIST_MALFORMED: Final = "malformed_output"  # a list whose items, flags or pscores cannot be read
LIST_SMALL_WINDOW: Final = "window_too_small"  # its window had fewer than min_window_lists lists
LIST_SHUTDOWN: Final = "shutdown"  # still in the open window when the agent stopped
CLICK_ITEM_NOT_IN_LIST: Final = "item_not_in_list"
CLICK_NO_IMPRESSION: Final = "no_impression"  # its list never arrived within pending_timeout_s
CLICK_MALFORMED: Final = "malformed_event"  # not a FeedbackEvent, or a position that is not an int
CLICK_OVERFLOW: Final = "pending_overflow"  # more than max_tracked clicks waited for their lists
CLICK_SHUTDOWN: Final = "shutdown"  # still waiting for its list when the agent stopped
