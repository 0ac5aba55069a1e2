"""Confidence routing: the precision guarantee holds in simulation, thin labels go to review, bad input is
one clear error, and ``prelabel route`` writes accept.jsonl, review.jsonl and route.json."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import prelabel
from helpers import run_cli, write_run_dir
from prelabel.comparison.thresholds import fit_threshold


def curve(s: np.ndarray) -> np.ndarray:
    """The known confidence→accuracy curve: overconfident (accuracy below the stated confidence)."""
    return np.clip(0.2 + 0.8 * s**1.5, 0, 1)


def draw_signals(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.beta(5.0, 1.5, n)  # LLM confidences bunch up high


class Population:
    """The true precision above a threshold, from one large sample of the population."""

    def __init__(self, seed: int = 7, n: int = 3_000_000):
        s = np.sort(draw_signals(np.random.default_rng(seed), n))[::-1]
        self.desc, self.cum = s, np.cumsum(curve(s))

    def precision(self, threshold: float) -> float:
        k = int(np.searchsorted(-self.desc, -threshold, side="right"))
        return float(self.cum[k - 1] / k)


def test_simulation_precision_below_target_in_at_most_delta_of_draws() -> None:
    """Over many calibration sets drawn from the curve, the accepted items' true precision falls below the
    target in at most ~delta of the draws (binomial slack), and coverage is reported."""
    rng = np.random.default_rng(20250101)
    population = Population()
    target, delta, draws, n = 0.85, 0.1, 400, 1000
    fits = []
    for _ in range(draws):
        s = draw_signals(rng, n)
        fits.append(fit_threshold(s, rng.uniform(size=n) < curve(s), target=target, delta=delta))
    chosen = [f.threshold for f in fits if f.threshold is not None]
    violations = sum(population.precision(t) < target for t in chosen)
    slack = 3 * math.sqrt(draws * delta * (1 - delta))
    coverage = float(np.mean([f.coverage for f in fits]))
    print(
        f"violations {violations}/{draws} (allowed {delta * draws + slack:.0f}), mean coverage {coverage:.3f}"
    )
    assert violations <= delta * draws + slack
    assert len(chosen) > 0.8 * draws and coverage > 0.3  # the guarantee is not bought by accepting nothing
    # a point estimate (the lowest threshold whose calibration precision reaches the target) fails far more
    grid = np.round(np.linspace(0.0, 1.0, 201), 3)
    naive = 0
    for _ in range(100):
        s = draw_signals(rng, n)
        c = rng.uniform(size=n) < curve(s)
        t = next(t for t in grid if (s >= t).any() and c[s >= t].mean() >= target)
        naive += population.precision(float(t)) < target
    assert naive > 30


def _frames(rng: np.random.Generator, counts: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, humans = [], []
    for label, n in counts.items():
        s = draw_signals(rng, n)
        right = rng.uniform(size=n) < curve(s)
        for k in range(n):
            item = f"{label}-{k}"
            rows.append({"item_id": item, "label": label, "confidence": round(float(s[k]), 3)})
            humans.append({"item_id": item, "annotator": "h1", "label": label if right[k] else "other"})
    return pd.DataFrame(rows), pd.DataFrame(humans)


def test_per_label_thresholds_and_thin_labels_go_to_review() -> None:
    rng = np.random.default_rng(1)
    cal, humans = _frames(rng, {"a": 1500, "b": 1500, "rare": 10})
    run = pd.DataFrame(
        {
            "item_id": ["r1", "r2", "r3", "r4", "r5"],
            "status": ["ok", "ok", "ok", "error", "ok"],
            "label": ["a", "b", "rare", None, "a"],
            "confidence": [0.999, 0.999, 0.999, None, 0.1],
        }
    )
    split = prelabel.route(run, cal, humans, target_precision=0.9, delta=0.05)
    report = split.report
    assert [r["item_id"] for r in split.accept] == ["r1", "r2"]
    reasons = {r["item_id"]: r["route"]["reason"] for r in split.review}
    assert reasons == {"r3": "too_little_calibration_data", "r4": "error", "r5": "below_threshold"}
    assert report.labels["rare"].status == "too_little_calibration_data"
    for label in ("a", "b"):
        fit = report.labels[label].fit
        assert fit is not None and fit.threshold is not None and fit.lower_bound >= 0.9
        assert fit.delta == pytest.approx(0.025)  # Bonferroni over the two labels tested
    assert report.run.coverage == pytest.approx(0.4) and report.run.review_reasons["error"] == 1
    assert any("always review (fewer than 30 calibration items): rare" in line for line in split.summary())


def test_routing_names_the_models_and_marks_smoke_model_thresholds() -> None:
    from prelabel.llm.endpoints import SMOKE_MODEL_NOTE

    rng = np.random.default_rng(1)
    cal, humans = _frames(rng, {"a": 200, "b": 200})
    run = pd.DataFrame({"item_id": ["r1", "r2"], "label": ["a", "b"], "confidence": 0.99, "model": "local"})
    split = prelabel.route(run, cal.assign(model="local"), humans, target_precision=0.9)
    lines = split.summary()
    assert (
        "run labeled by model local (smoke model: mechanics only) (2 results); SOP version not "
        in "\n".join(lines)
    )
    assert "\ncalibration labeled by model local (smoke model: mechanics only) (400 results);" in "\n".join(
        lines
    )
    assert f"note: thresholds and the split come from smoke-model answers: {SMOKE_MODEL_NOTE}" in lines
    dumped = split.report.model_dump(mode="json", by_alias=True)
    assert dumped["provenance"]["run"]["smoke_model"] is True
    plain = prelabel.route(run.assign(model="gpt-4o-mini"), cal, humans, target_precision=0.9)
    assert not any("smoke model" in line for line in plain.summary())


def test_agreement_signal_needs_samples() -> None:
    cal = pd.DataFrame({"item_id": ["1"], "label": ["a"], "confidence": [0.9]})
    humans = pd.DataFrame({"item_id": ["1"], "annotator": ["x"], "label": ["a"]})
    with pytest.raises(prelabel.InputError, match="needs self-consistency samples"):
        prelabel.route(cal, cal, humans, target_precision=0.9, signal="agreement")


def test_agreement_signal_from_samples() -> None:
    n = 300
    cal = pd.DataFrame(
        {
            "item_id": [str(i) for i in range(n)],
            "label": "a",
            "samples": [["a", "a", "a"]] * n,
            "confidence": 0.5,
        }
    )
    humans = cal.assign(annotator="x")[["item_id", "annotator", "label"]]
    run = pd.DataFrame(
        {"item_id": ["r1", "r2"], "label": ["a", "a"], "samples": [["a", "a", "a"], ["a", "b", "b"]]}
    )
    split = prelabel.route(run, cal, humans, target_precision=0.95, signal="agreement")
    assert [r["item_id"] for r in split.accept] == ["r1"]
    assert split.review[0]["route"]["value"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("target", [0.0, 1.0, 1.5, -0.1])
def test_target_outside_unit_interval(target: float) -> None:
    frame = pd.DataFrame({"item_id": ["1"], "label": ["a"], "confidence": [0.9]})
    with pytest.raises(prelabel.InputError, match="strictly between 0 and 1"):
        prelabel.route(frame, frame, frame.assign(annotator="x"), target_precision=target)


def test_calibration_without_overlap_with_the_run_label_space() -> None:
    cal = pd.DataFrame({"item_id": ["1", "2"], "label": ["x", "y"], "confidence": [0.9, 0.8]})
    humans = cal.assign(annotator="h")[["item_id", "annotator", "label"]]
    run = pd.DataFrame({"item_id": ["r"], "label": ["a"], "confidence": [0.9]})
    with pytest.raises(prelabel.InputError, match="shares no label with the run"):
        prelabel.route(run, cal, humans, target_precision=0.9)


def test_cli_route_then_export_one_side(tmp_path: Path, capsys) -> None:
    sop_path = prelabel.bundled_sop_path("customer_feedback_intent")
    sop = prelabel.load_sop(sop_path)
    rng = np.random.default_rng(3)
    cal, humans = _frames(rng, {"logistics.late_delivery": 600, "product.damaged": 5})
    cal_dir = tmp_path / "cal"
    cal_dir.mkdir()
    (cal_dir / "labels.jsonl").write_text(cal.to_json(orient="records", lines=True))
    humans.to_csv(cal_dir / "human_labels.csv", index=False)
    common = {
        "status": "ok",
        "model": "m",
        "sop_id": sop.id,
        "sop_version": sop.version,
        "prompt_hash": "sha256:00",
    }
    rows = [
        {"item_id": "r1", "label": "logistics.late_delivery", "confidence": 0.99, **common},
        {"item_id": "r2", "label": "product.damaged", "confidence": 0.99, **common},
    ]
    run_dir = write_run_dir(tmp_path, sop, sop_path, rows)
    out = tmp_path / "route"
    args = ["route", str(run_dir), "--calibration", str(cal_dir), "--target-precision", "0.8", "-o", str(out)]
    code, stdout, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "accept 1, review 1 of 2 items" in stdout
    assert "always review (fewer than 30 calibration items): product.damaged" in stdout
    route_json = json.loads((out / "route.json").read_text())
    assert route_json["global"]["threshold"] is not None and "probability" in route_json["guarantee"]
    accepted = [json.loads(x) for x in (out / "accept.jsonl").read_text().splitlines()]
    assert (
        accepted[0]["item_id"] == "r1" and accepted[0]["prompt_hash"] == "sha256:00"
    )  # the line, kept whole
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and err.strip().endswith("already exists; pass --force to overwrite it")
    assert run_cli(capsys, *args, "--force")[0] == 0
    csv = tmp_path / "review.csv"
    code, stdout, err = run_cli(
        capsys, "export", str(run_dir), "-f", "csv", "-o", str(csv), "--only", "review", "--route", str(out)
    )
    assert code == 0, err
    assert "review side of the routing" in stdout
    assert list(pd.read_csv(csv)["item_id"]) == ["r2"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("empty_dir", "no model results here"),
        ("bad_target", "strictly between 0 and 1"),
        ("changed_sop", "SOP no longer matches the run"),
        ("no_calibration_dir", "missing: not a calibration directory; pass a directory holding labels.jsonl"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(setup: str, message: str, tmp_path: Path, capsys) -> None:
    sop_path = prelabel.bundled_sop_path("customer_feedback_intent")
    sop = prelabel.load_sop(sop_path)
    row = {"item_id": "r1", "status": "ok", "label": "logistics.late_delivery", "confidence": 0.9}
    run_dir = tmp_path / "empty" if setup == "empty_dir" else write_run_dir(tmp_path, sop, sop_path, [row])
    run_dir.mkdir(exist_ok=True)
    humans = tmp_path / "h.csv"
    humans.write_text("item_id,annotator,label\nr1,x,logistics.late_delivery\n")
    args = ["route", str(run_dir), "--calibration", str(run_dir / "labels.jsonl"), "--humans", str(humans)]
    if setup == "no_calibration_dir":
        args = ["route", str(run_dir), "--calibration", str(tmp_path / "missing")]
    args += ["--target-precision", "1.2" if setup == "bad_target" else "0.9", "-o", str(tmp_path / "o")]
    if setup == "changed_sop":
        changed = tmp_path / "changed.yaml"
        changed.write_text(sop_path.read_text(encoding="utf-8").replace("version: 1.0.0", "version: 1.0.1"))
        args += ["--sop", str(changed)]
    code, _, err = run_cli(capsys, *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err


def test_out_of_range_confidence_goes_to_review_with_its_reason() -> None:
    """A confidence of 1.7 is not clipped to 1.0 and accepted: it is untrusted, and routed to review."""
    cal, humans = _frames(np.random.default_rng(3), {"a": 1500})
    run = pd.DataFrame(
        {"item_id": ["r1", "r2"], "status": "ok", "label": ["a", "a"], "confidence": [1.7, 0.999]}
    )
    split = prelabel.route(run, cal, humans, target_precision=0.9, delta=0.05)
    assert [r["item_id"] for r in split.accept] == ["r2"]
    assert split.review[0]["route"]["reason"] == "confidence_out_of_range"


def test_run_answers_follow_compares_abstentions_and_sop() -> None:
    """The run is split with compare's rules too: without an SOP, an answer that the run's abstained rows
    carry is an abstention (r2); an answer outside the SOP never got a threshold (r3)."""
    rng = np.random.default_rng(2)
    cal, humans = _frames(rng, {"a": 1500})
    run = pd.DataFrame(
        {
            "item_id": ["r1", "r2", "r3", "r4"],
            "status": ["ok", "ok", "ok", "abstained"],
            "label": ["a", "unsure", "a_typo", "unsure"],
            "confidence": 0.999,
        }
    )
    split = prelabel.route(run, cal, humans, target_precision=0.9)
    reasons = {r["item_id"]: r["route"]["reason"] for r in split.review}
    assert [r["item_id"] for r in split.accept] == ["r1"]
    assert reasons == {"r2": "abstained", "r3": "too_little_calibration_data", "r4": "abstained"}
    assert "unsure" not in split.report.labels


def test_route_checks_the_sop_run_json_names_as_export_does(tmp_path: Path, capsys) -> None:
    """Without --sop, route reads the SOP run.json names (its help says so): an SOP edited since the run is
    refused with the line export gives, before anything is written."""
    sop_path = tmp_path / "sop.yaml"
    sop_path.write_text(prelabel.bundled_sop_path("customer_feedback_intent").read_text(encoding="utf-8"))
    sop = prelabel.load_sop(sop_path)
    row = {"item_id": "r1", "status": "ok", "label": "logistics.late_delivery", "confidence": 0.9}
    run_dir = write_run_dir(tmp_path, sop, sop_path, [row])
    humans = tmp_path / "h.csv"
    humans.write_text("item_id,annotator,label\nr1,x,logistics.late_delivery\n")
    args = [
        "--calibration",
        str(run_dir / "labels.jsonl"),
        "--humans",
        str(humans),
        "--target-precision",
        "0.9",
    ]
    assert run_cli(capsys, "route", str(run_dir), *args, "-o", str(tmp_path / "o"))[0] == 0
    sop_path.write_text(sop_path.read_text(encoding="utf-8").replace("version: 1.0.0", "version: 1.0.1"))
    code, _, route_err = run_cli(capsys, "route", str(run_dir), *args, "-o", str(tmp_path / "o2"))
    assert code == 2 and not (tmp_path / "o2").exists()
    code, _, export_err = run_cli(capsys, "export", str(run_dir), "-f", "csv", "-o", str(tmp_path / "x.csv"))
    assert code == 2
    assert route_err == export_err and "the SOP no longer matches the run" in route_err
    assert len(route_err.strip().splitlines()) == 1


LEAVES = [f"leaf{i:02d}" for i in range(13)]


def _run_frame(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A run over the 13 leaves with the population's confidences, and whether each answer is right."""
    s = draw_signals(rng, n)
    labels = rng.choice(LEAVES, n)
    run = pd.DataFrame({"item_id": [f"r{k}" for k in range(n)], "label": labels, "confidence": s.round(3)})
    return run, rng.uniform(size=n) < curve(s)


def test_default_route_pays_off_at_program_sizes_where_per_label_accepts_nothing() -> None:
    """The issue's measurement: 2,000 calibration items over a 13-leaf SOP (~150 per label). Per label
    (Bonferroni over 13) certifies no label and accepts nothing; the default (mixed) pools the thin labels
    under one threshold and accepts a useful share at a realized precision at or above the target, and
    says how many items per label a threshold of its own needs."""
    rng = np.random.default_rng(2000)
    cal, humans = _frames(rng, dict.fromkeys(LEAVES, 2000 // 13))
    run, right = _run_frame(rng, 4000)
    per_label = prelabel.route(run, cal, humans, target_precision=0.85, by="label")
    default = prelabel.route(run, cal, humans, target_precision=0.85)
    assert per_label.report.run.n_accept == 0
    assert default.report.by == "mixed" and default.report.pooled is not None
    accepted = run["item_id"].isin([r["item_id"] for r in default.accept]).to_numpy()
    print(f"default accepts {accepted.mean():.1%} at realized precision {right[accepted].mean():.3f}")
    assert accepted.mean() > 0.10 and right[accepted].mean() >= 0.85
    assert {v.status for v in default.report.labels.values()} == {"pooled"}
    needed = default.report.items_needed_per_label
    assert needed > 2000 // 13 and needed == per_label.report.items_needed_per_label
    assert any(f"about {needed} calibration items per label" in line for line in default.summary())


def test_mixed_gives_big_labels_their_own_threshold_and_the_guarantee_holds_in_simulation() -> None:
    """Two big labels get thresholds of their own, eleven thin ones share the pooled one (delta split
    between the families); over many calibration draws, some certified part's true precision falls below
    the target in at most ~delta of the draws."""
    rng = np.random.default_rng(77)
    population = Population()
    target, delta, draws = 0.85, 0.1, 60
    counts = {"big_a": 2500, "big_b": 2500} | {f"thin{i:02d}": 120 for i in range(11)}
    violations, covered = 0, []
    for _ in range(draws):
        cal, humans = _frames(rng, counts)
        run = pd.DataFrame({"item_id": ["x"], "label": ["big_a"], "confidence": [0.5]})
        report = prelabel.route(run, cal, humans, target_precision=target, delta=delta).report
        assert report.labels["big_a"].status in ("threshold", "target_not_met")
        assert report.labels["thin00"].status == "pooled" and report.pooled is not None
        assert report.labels["big_a"].fit is not None
        assert report.labels["big_a"].fit.delta == pytest.approx(delta / 2 / 2)
        assert report.pooled.delta == pytest.approx(delta / 2)
        thresholds = [v.fit.threshold for v in report.labels.values() if v.fit is not None]
        thresholds.append(report.pooled.threshold)
        chosen = [t for t in thresholds if t is not None]
        violations += any(population.precision(t) < target for t in chosen)
        covered.append(report.pooled.coverage)
    slack = 3 * math.sqrt(draws * delta * (1 - delta))
    assert violations <= delta * draws + slack
    assert np.mean(covered) > 0.05  # the thin labels are not all sent to review
