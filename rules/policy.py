"""Attendance policy: defaults in policy.yaml, an optional override file, validation, version."""

from __future__ import annotations

import hashlib
import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.yaml")
POLICY_ENV = "ROLLCALL_POLICY"


class PolicyError(ValueError):
    """A policy file is unreadable, names an unknown key, or gives a value out of range."""


class Policy(BaseModel):
    """Thresholds the rules use. Durations carry their unit in the name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_office_share: float = Field(ge=0.0, le=1.0)
    office_day_min_hours: float = Field(gt=0.0, le=24.0)
    duty_grace_minutes: int = Field(ge=0, le=240)
    unrostered_hold_hours: int = Field(ge=0, le=24 * 14)
    max_future_skew_minutes: int = Field(ge=0, le=24 * 60)
    retention_days_raw: int = Field(ge=1)
    retention_days_derived: int = Field(ge=1)
    max_speed_kmh: float = Field(gt=0.0)
    timeline_cell_resolution: int = Field(ge=0, le=15)
    recompute_marked_days: int = Field(ge=0, le=3660)
    share_min_assessed_days: int = Field(ge=0)
    share_min_assessed_fraction: float = Field(ge=0.0, le=1.0)

    # Presence (rules/evidence.py, rules/presence.py).
    smooth_fixes: Literal[1, 3, 5]
    inside_accuracy_share: float = Field(ge=0.0)
    inside_max_distance_m: float
    inside_cap_m: float
    inside_max_accuracy_m: float = Field(gt=0.0)
    away_min_distance_m: float = Field(gt=0.0)
    away_accuracy_factor: float = Field(ge=0.0)
    away_indoor_accuracy_factor: float = Field(ge=0.0)
    unmatched_distance_m: float = Field(gt=0.0)
    away_max_accuracy_m: float = Field(gt=0.0)
    bridge_max_minutes: int = Field(ge=0, le=24 * 60)
    edge_credit_minutes: int = Field(ge=0, le=24 * 60)
    presence_bridge_max_minutes: int = Field(ge=0, le=24 * 60)
    presence_edge_credit_minutes: int = Field(ge=0, le=24 * 60)
    badge_anchor_max_hours: float = Field(ge=0.0, le=48.0)
    outlier_span_minutes: int = Field(ge=0, le=24 * 60)
    near_run_min_fixes: int = Field(ge=2)
    near_run_min_minutes: int = Field(ge=0, le=24 * 60)
    near_run_max_median_m: float = Field(ge=0.0)
    evidence_min_events: int = Field(ge=1)
    visit_step_minutes: int = Field(ge=1, le=240)
    visit_inside_share: float = Field(ge=0.0)
    visit_inside_cap_m: float = Field(ge=0.0)
    ghost_min_distance_m: float = Field(gt=0.0)
    ghost_same_place_m: float = Field(ge=0.0)
    ghost_speed_kmh: float = Field(gt=0.0)
    skew_arrival_gap_minutes: float = Field(gt=0.0, le=60.0)
    skew_min_arrivals: int = Field(ge=1)
    skew_max_offset_minutes: float = Field(ge=0.0, le=24 * 60)
    clock_tolerance_minutes: float = Field(ge=0.0, le=60.0)
    receipt_offset_days: int = Field(ge=1, le=90)
    receipt_min_batches: int = Field(ge=1)

    # Flags (rules/flags/).
    badge_device_window_minutes: int = Field(gt=0, le=24 * 60)
    badge_far_m: float = Field(gt=0.0)
    badge_same_place_m: float = Field(ge=0.0)
    flag_fix_max_accuracy_m: float = Field(gt=0.0)
    badge_fix_max_accuracy_m: float = Field(gt=0.0)
    badge_min_far_fixes: int = Field(ge=1)
    conflict_window_minutes: int = Field(gt=0, le=24 * 60)
    travel_min_distance_m: float = Field(ge=0.0)
    travel_confirm_share: float = Field(gt=0.0, lt=0.5)
    travel_confirm_minutes: int = Field(gt=0, le=24 * 60)
    check_min_coverage: float = Field(gt=0.0, le=1.0)
    support_share: float = Field(gt=0.0, le=1.0)
    mock_min_fixes: int = Field(ge=1)
    dwb_min_fixes: int = Field(ge=1)
    dwb_clean_share: float = Field(gt=0.0, le=1.0)
    dwb_clean_accuracy_m: float = Field(gt=0.0)
    dwb_habit_days: int = Field(ge=0, le=90)

    # Review and right of reply (store/flag_review.py, store/access.py).
    substantiation_reviewers: int = Field(ge=1, le=5)
    open_case_disclosure_days: int = Field(ge=0, le=3650)

    # Roster integrity (rules/integrity.py).
    overlap_min_minutes: int = Field(ge=1, le=24 * 60)
    self_edit_max_per_period: int = Field(ge=0)
    edit_cluster_min_edits: int = Field(ge=2)

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        """Cross-key check: a fix cannot be both inside and away evidence."""
        for key in ("inside_max_distance_m", "inside_cap_m", "visit_inside_cap_m"):
            if getattr(self, key) >= self.away_min_distance_m:
                raise ValueError(
                    f"{key} ({getattr(self, key)}) must be below "
                    f"away_min_distance_m ({self.away_min_distance_m})"
                )
        if self.unmatched_distance_m < self.away_min_distance_m:
            raise ValueError(
                f"unmatched_distance_m ({self.unmatched_distance_m}) must be at least "
                f"away_min_distance_m ({self.away_min_distance_m})"
            )
        return self

    @cached_property
    def version(self) -> str:
        """A short stable digest of every value: results record the policy they were made with."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return "p-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: a policy file must be a mapping of key: value")
    return data


def load_policy(override: Path | str | None = None) -> Policy:
    """Load the defaults, then the override file (argument, else $ROLLCALL_POLICY) on top.

    Raises PolicyError naming the file and the key when a key is unknown or a value is invalid.
    """
    values = _read_yaml(DEFAULT_POLICY_PATH)
    source = str(DEFAULT_POLICY_PATH)
    override = override if override is not None else os.environ.get(POLICY_ENV) or None
    if override is not None:
        source = str(override)
        values.update(_read_yaml(Path(override)))
    try:
        return Policy(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PolicyError(f"{source}: invalid policy: {problems}") from exc
