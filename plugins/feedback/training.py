"""Training data from the feedback store: one row per impression, with its position as a feature.

The correction for position bias that the field uses is to train with the position the
item was shown at (and to serve with a fixed position). The store already holds every
served list (captured outputs) and every click with its position; ``impressions`` joins
them into rows a training pipeline can consume, together with the exploration flag and
propensity (``pscore``) that off-policy estimators need.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugins.feedback._windows import ranked_items


@dataclass(frozen=True, slots=True)
class Impression:
    """One item shown in one served list, and whether the user clicked it."""

    prediction_id: str
    model: str
    version: str
    timestamp: float
    item_id: str
    position: int
    clicked: bool
    exploration: bool | None
    pscore: float | None


def impressions(
    store_path: str | Path, *, model: str | None = None, click_kinds: Iterable[str] = ("click",)
) -> Iterator[Impression]:
    """Every impression of the ranking outputs in the store (oldest first), with its position and click.

    ``store_path`` is ``<data_dir>/feedback.sqlite``. Opened read-only, so it can run next
    to a live agent. Lists whose output is not a ranked list are skipped.
    """
    uri = f"file:{Path(store_path)}?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        kinds = tuple(click_kinds)
        marks = ",".join("?" * len(kinds))
        clicked = {
            (pid, pos)
            for pid, pos in conn.execute(
                f"SELECT prediction_id, position FROM feedback WHERE kind IN ({marks}) AND position IS NOT NULL",
                kinds,
            )
        }
        sql = "SELECT prediction_id, model, version, ts, output FROM predictions"
        params: tuple[Any, ...] = ()
        if model is not None:
            sql += " WHERE model = ?"
            params = (model,)
        for pid, mdl, version, ts, output in conn.execute(sql + " ORDER BY seq", params):
            out = json.loads(output) if output else None
            items = ranked_items(out)
            if not items:
                continue
            explored = out.get("exploration") if isinstance(out, dict) else None
            pscores = out.get("pscore") if isinstance(out, dict) else None
            for pos, item in enumerate(items):
                yield Impression(
                    prediction_id=pid, model=mdl, version=version, timestamp=ts, item_id=item, position=pos,
                    clicked=(pid, pos) in clicked,
                    exploration=bool(explored[pos]) if isinstance(explored, list) and pos < len(explored) else None,
                    pscore=float(pscores[pos]) if isinstance(pscores, list) and pos < len(pscores) else None,
                )
    finally:
        conn.close()
