"""Policy: defaults, every key documented, validation naming the key, ROLLCALL_POLICY override."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rules.policy import DEFAULT_POLICY_PATH, Policy, PolicyError, load_policy

CONTRACT_DEFAULTS = {
    "min_office_share": 0.80,
    "office_day_min_hours": 4.0,
    "duty_grace_minutes": 30,
    "unrostered_hold_hours": 24,
    "retention_days_raw": 90,
    "retention_days_derived": 730,
    "max_speed_kmh": 150,
    "timeline_cell_resolution": 7,
}


def test_contract_defaults_are_kept() -> None:
    policy = load_policy()
    for key, value in CONTRACT_DEFAULTS.items():
        assert getattr(policy, key) == value


def test_every_key_in_yaml_has_a_comment_line_above_it() -> None:
    lines = DEFAULT_POLICY_PATH.read_text(encoding="utf-8").splitlines()
    keys = [i for i, line in enumerate(lines) if line and not line.startswith("#")]
    for i in keys:
        assert lines[i - 1].startswith("# "), f"{lines[i]!r} has no one-line meaning above it"


def test_yaml_and_model_have_the_same_keys() -> None:
    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    assert set(data) == set(Policy.model_fields)


def test_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("bridge_max_minutes_typo: 3\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="bridge_max_minutes_typo"):
        load_policy(bad)


def test_out_of_range_value_is_an_error_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("support_share: 1.5\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="support_share"):
        load_policy(bad)


def test_inconsistent_distances_are_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("inside_max_distance_m: 60\naway_min_distance_m: 50\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="inside_max_distance_m"):
        load_policy(bad)


def test_smoothing_window_other_than_1_3_5_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("smooth_fixes: 4\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="smooth_fixes"):
        load_policy(bad)


def test_override_from_environment_changes_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    override = tmp_path / "p.yaml"
    override.write_text("bridge_max_minutes: 30\n", encoding="utf-8")
    default = load_policy()
    monkeypatch.setenv("ROLLCALL_POLICY", str(override))
    changed = load_policy()
    assert changed.bridge_max_minutes == 30
    assert changed.edge_credit_minutes == default.edge_credit_minutes
    assert changed.version != default.version
    assert load_policy(DEFAULT_POLICY_PATH).version == default.version


def test_unmatched_distance_below_away_distance_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("unmatched_distance_m: 40\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="unmatched_distance_m"):
        load_policy(bad)
