"""``prelabel test`` and ``run_sop_tests``: statuses, exit codes, JUnit, the answer cache, ``--repeat``,
``-k``, per-case errors and an unusable endpoint, against scripted answers (``prelabel.testing``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sop_cases import SUITE_SOP, by_keyword, write_suite_sop

import prelabel
from helpers import fast_retry, run_cli, use_fast_default_retry
from prelabel.authoring.answer_cache import AnswerCache
from prelabel.testing import FakeModel, FakeServer, Reply

pytestmark = pytest.mark.usefixtures("prelabel_cache")
SOP = prelabel.parse_sop(SUITE_SOP)
NODES = ["tests/T1", "tests/T2", "tests/tests[2]", "edge_cases/E1"]


def junit_statuses(path: Path) -> dict[str, str]:
    """Each testcase's outcome in a JUnit file: pass, or the type of its failure/error."""
    root = ET.parse(path).getroot()
    out = {}
    for case in root.iter("testcase"):
        kind = case.get("classname", "").rsplit(".", 1)[-1]
        detail = case.find("failure") if case.find("failure") is not None else case.find("error")
        out[f"{kind}/{case.get('name')}"] = "pass" if detail is None else str(detail.get("type"))
    return out


def test_every_case_passes_with_the_expected_answers() -> None:
    fake = FakeModel(default=by_keyword())
    report = prelabel.run_sop_tests(SOP, client=fake.async_client())
    assert report.statuses() == dict.fromkeys(NODES, "pass")
    assert report.exit_code == 0 and report.ok and report.requests == 4 == len(fake.requests)
    assert "4 cases: 4 passed" in report.summary()


def test_the_smoke_model_is_named_and_noted_in_the_output_and_junit(tmp_path: Path) -> None:
    from prelabel.llm.endpoints import SMOKE_MODEL_NOTE

    fake = FakeModel(default=Reply.answer("other"))  # as the 270M model: one label for everything
    report = prelabel.run_sop_tests(SOP, model="local", client=fake.async_client())
    text = report.to_text().splitlines()
    assert "on local (smoke model: mechanics only);" in text[-2] and text[-1] == f"note: {SMOKE_MODEL_NOTE}"
    props = {
        p.get("name"): p.get("value")
        for p in ET.parse(report.write_junit(tmp_path / "j.xml")).iter("property")
    }
    assert props["model"] == "local" and props["model_note"] == SMOKE_MODEL_NOTE
    other = prelabel.run_sop_tests(SOP, model="gpt-4o-mini", client=fake.async_client())
    assert (
        other.model_note is None and "note:" not in other.to_text() and "smoke model" not in other.to_text()
    )


def test_a_failure_shows_expected_answer_rationale_and_cited_rules() -> None:
    fake = FakeModel(default=by_keyword({"ripe pear": "fruit.apple"}))
    report = prelabel.run_sop_tests(SOP, client=fake.async_client())
    assert report.statuses()["tests/T2"] == "fail" and report.exit_code == 1
    text = report.to_text()
    assert "FAIL     tests/T2" in text
    for part in (
        "expected:  fruit.pear",
        "answer:    fruit.apple",
        "ripe pear means fruit.apple",
        "cited:     R1",
    ):
        assert part in text


def test_exit_codes_and_junit_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sop = write_suite_sop(tmp_path / "sop.yaml")
    junit = tmp_path / "out" / "junit.xml"
    cases = [({}, 0, dict.fromkeys(NODES, "pass")), ({"hammer": "fruit.pear"}, 1, None)]
    for overrides, code, expected in cases:
        with FakeServer(FakeModel(default=by_keyword(overrides))) as server:
            got, out, _ = run_cli(
                capsys, "test", str(sop), "--base-url", server.url, "--junit", str(junit), "--no-cache"
            )
        assert got == code, out
        statuses = junit_statuses(junit)
        assert statuses == (expected or {**dict.fromkeys(NODES, "pass"), "tests/tests[2]": "fail"})
        suite = ET.parse(junit).getroot().find("testsuite")
        assert suite is not None and suite.get("failures") == str(code) and suite.get("errors") == "0"


def test_second_run_of_an_unchanged_sop_sends_no_request(tmp_path: Path) -> None:
    fake = FakeModel(default=by_keyword())
    first = prelabel.run_sop_tests(SOP, client=fake.async_client())
    sent = len(fake.requests)
    second = prelabel.run_sop_tests(SOP, client=fake.async_client())
    assert sent == 4 and len(fake.requests) == sent
    assert second.requests == 0 and second.from_cache == 4 and second.statuses() == first.statuses()
    # a changed definition changes the prompt hash: every case is asked again; --no-cache forces too
    changed = prelabel.parse_sop(SUITE_SOP.replace("An apple.", "An apple, any variety."))
    prelabel.run_sop_tests(changed, client=fake.async_client())
    assert len(fake.requests) == 8
    prelabel.run_sop_tests(SOP, client=fake.async_client(), use_cache=False)
    assert len(fake.requests) == 12


def test_cli_second_run_sends_no_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sop = write_suite_sop(tmp_path / "sop.yaml")
    with FakeServer(FakeModel(default=by_keyword())) as server:
        for _ in range(2):
            code, out, _ = run_cli(capsys, "test", str(sop), "--base-url", server.url)
            assert code == 0, out
        assert len(server.requests) == 4
        assert "0 requests, 4 answers from cache" in out


def test_errors_are_not_cached(prelabel_cache: Path) -> None:
    fake = FakeModel([Reply.error(400, "bad request")], default=by_keyword())
    first = prelabel.run_sop_tests(SOP, client=fake.async_client(), pattern="T1", retry=fast_retry())
    assert first.statuses() == {"tests/T1": "error"} and first.exit_code == 1
    again = prelabel.run_sop_tests(SOP, client=fake.async_client(), pattern="T1")
    assert again.statuses() == {"tests/T1": "pass"} and again.requests == 1
    assert len(AnswerCache(prelabel_cache / "answers.sqlite")) == 1


def test_repeat_marks_a_case_unstable_when_sampled_answers_differ() -> None:
    script = [Reply.answer("fruit.pear"), Reply.answer("fruit.apple"), Reply.answer("fruit.pear")]
    fake = FakeModel(script, default=by_keyword())
    report = prelabel.run_sop_tests(SOP, client=fake.async_client(), pattern="T2", repeat=3)
    (case,) = report
    assert case.status == "unstable" and case.passed == 2 and case.pass_rate == pytest.approx(2 / 3)
    assert all(r.body["temperature"] == 0.7 for r in fake.requests)  # sampling, not greedy
    assert "UNSTABLE tests/T2 (2/3)" in report.to_text() and report.exit_code == 1
    # consistently wrong is a failure, consistently right a pass; samples are cached per index
    wrong = FakeModel(default=Reply.answer("other"))
    assert prelabel.run_sop_tests(SOP, client=wrong.async_client(), pattern="T1", repeat=3).statuses() == {
        "tests/T1": "fail"
    }
    again = prelabel.run_sop_tests(SOP, client=fake.async_client(), pattern="T2", repeat=3)
    assert again.requests == 0 and [c.status for c in again] == ["unstable"]


def test_repeat_in_the_cli_and_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sop = write_suite_sop(tmp_path / "sop.yaml")
    fake = FakeModel([Reply.answer("fruit.apple")], default=by_keyword())
    with FakeServer(fake) as server:
        code, out, _ = run_cli(
            capsys, "test", str(sop), "--base-url", server.url, "--repeat", "2", "-k", "T1",
            "--junit", str(tmp_path / "j.xml"),
        )  # fmt: skip
    assert code == 0 and "PASS     tests/T1 (2/2)" in out
    with FakeServer(FakeModel([Reply.answer("other")], default=by_keyword())) as server:
        code, out, _ = run_cli(
            capsys, "test", str(sop), "--base-url", server.url, "--repeat", "2", "-k", "T2", "--no-cache",
            "--junit", str(tmp_path / "j.xml"),
        )  # fmt: skip
    assert code == 1 and "UNSTABLE tests/T2 (1/2)" in out
    assert junit_statuses(tmp_path / "j.xml") == {"tests/T2": "unstable"}


def test_pattern_selects_cases_by_id_text_or_glob() -> None:
    fake = FakeModel(default=by_keyword())
    assert [c.case.node for c in prelabel.run_sop_tests(SOP, client=fake.async_client(), pattern="pear")] == [
        "tests/T2",
        "edge_cases/E1",
    ]
    assert [c.case.name for c in prelabel.run_sop_tests(SOP, client=fake.async_client(), pattern="E*")] == [
        "E1"
    ]


def test_a_pattern_matching_no_case_is_bad_input_not_a_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`prelabel test -k E33` (a typo) printed "0 cases" and exited 0: a CI gate passed with nothing run."""
    fake = FakeModel(default=by_keyword())
    with pytest.raises(prelabel.InputError, match=r"no test or edge case matches -k 'E33' \(cases: tests/T1"):
        prelabel.run_sop_tests(SOP, client=fake.async_client(), pattern="E33")
    assert fake.requests == []
    sop_path = write_suite_sop(tmp_path / "fruit.yaml")
    code, _, err = run_cli(capsys, "test", str(sop_path), "-k", "E33", "--base-url", "http://127.0.0.1:9/v1")
    assert code == 2 and err.startswith("error: no test or edge case matches -k 'E33'"), err
    assert len(err.strip().splitlines()) == 1


def test_a_model_failure_is_a_per_case_error_never_a_pass(tmp_path: Path) -> None:
    script = [Reply.raw("not json at all")] * 3 + [Reply.error(500)] * 3
    fake = FakeModel(script, default=by_keyword())
    report = prelabel.run_sop_tests(
        SOP, client=fake.async_client(), pattern="T", retry=fast_retry(), max_reasks=2, concurrency=1
    )
    statuses = report.statuses()
    assert sorted(statuses.values()) == ["error", "error", "pass"], statuses
    assert report.exit_code == 1 and report.counts["error"] == 2
    junit = report.write_junit(tmp_path / "junit.xml")
    assert sorted(junit_statuses(junit).values()) == ["error", "error", "pass"]
    assert ET.parse(junit).getroot().find("testsuite").get("errors") == "2"  # type: ignore[union-attr]


def test_an_unusable_endpoint_exits_3_and_junit_lists_every_case_as_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sop = write_suite_sop(tmp_path / "sop.yaml")
    junit = tmp_path / "junit.xml"
    with FakeServer(FakeModel(default=Reply.error(401, "invalid api key", code="invalid_api_key"))) as server:
        code, _, err = run_cli(capsys, "test", str(sop), "--base-url", server.url, "--junit", str(junit))
    assert code == 3 and err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert junit_statuses(junit) == dict.fromkeys(NODES, "error")
    # unreachable after retries: exit 3 as well
    use_fast_default_retry(monkeypatch)
    code, _, err = run_cli(capsys, "test", str(sop), "--base-url", "http://127.0.0.1:9/v1")
    assert code == 3 and "unreachable" in err


def test_tests_naming_unknown_labels_exit_2_before_any_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sop = write_suite_sop(
        tmp_path / "sop.yaml", SUITE_SOP.replace("expect: fruit.pear", "expect: fruit.plum")
    )
    with FakeServer(FakeModel()) as server:
        code, _, err = run_cli(capsys, "test", str(sop), "--base-url", server.url)
        assert code == 2 and "fruit.plum" in err and ":" in err.splitlines()[0]
        assert server.requests == []


def test_multi_label_cases_compare_label_sets() -> None:
    sop = prelabel.bundled_sop("seller_content_risk")
    (case,) = [c for c in sop.edge_cases if len(c.label) > 1][:1]
    fake = FakeModel(default=Reply.answer(list(reversed(case.label))))
    report = prelabel.run_sop_tests(sop, client=fake.async_client(), pattern=case.id, cache=False)
    assert [c.status for c in report] == ["pass"]


def test_the_retry_flags_bound_what_prelabel_test_sends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--max-reasks``/``--max-attempts`` reach the model calls of ``prelabel test`` as they do ``run``'s."""
    sop = write_suite_sop(tmp_path / "sop.yaml")
    for flags, per_case in ((["--max-reasks", "0"], 1), (["--max-reasks", "1"], 2)):
        fake = FakeModel(default=Reply.raw('{"label": "nope"}'))  # off-schema: re-asked until the bound
        with FakeServer(fake) as server:
            code, _, _ = run_cli(capsys, "test", str(sop), "--base-url", server.url, "--no-cache", *flags)
        assert code == 1 and len(fake.requests) == per_case * len(NODES)
    fake = FakeModel(default=Reply.error(500, "boom"))
    with FakeServer(fake) as server:
        args = ["test", str(sop), "--base-url", server.url, "--no-cache", "--max-attempts", "1", "-k", "T1"]
        code, _, _ = run_cli(capsys, *args)
    assert len(fake.requests) == 1


def test_the_same_model_name_on_another_server_is_asked_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two servers (two vLLMs, a proxy) may serve different models under one name: no answer crosses over."""
    sop = write_suite_sop(tmp_path / "sop.yaml")
    with (
        FakeServer(FakeModel(default=by_keyword())) as first,
        FakeServer(FakeModel(default=by_keyword())) as second,
    ):
        assert run_cli(capsys, "test", str(sop), "--base-url", first.url)[0] == 0
        assert run_cli(capsys, "test", str(sop), "--base-url", second.url)[0] == 0
        assert len(first.requests) == 4 and len(second.requests) == 4
        run_cli(capsys, "test", str(sop), "--base-url", first.url)
        assert len(first.requests) == 4  # its own answers are still cached


def test_junit_parses_when_a_rationale_holds_nul_or_esc(tmp_path: Path) -> None:
    """Issue #21: a rationale with NUL or ESC made a JUnit file CI cannot parse."""
    fake = FakeModel(default=Reply.answer("other", rationale="bad \x00 byte and \x1b[31mred\x1b[0m"))
    report = prelabel.run_sop_tests(SOP, client=fake.async_client(), pattern="T1")
    junit = report.write_junit(tmp_path / "junit.xml")
    (failure,) = ET.parse(junit).getroot().iter("failure")  # parses: nothing XML forbids is left
    assert "bad \\x00 byte and \\x1b[31mred\\x1b[0m" in str(failure.text)
    assert "\x00" not in junit.read_text(encoding="utf-8") and "\x1b" not in junit.read_text(encoding="utf-8")


def test_a_pattern_matching_no_case_still_writes_an_empty_junit_suite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The JUnit file is written in every case: with no case selected, an empty suite (0 tests), exit 2."""
    sop_path = write_suite_sop(tmp_path / "fruit.yaml")
    junit = tmp_path / "reports" / "j.xml"
    with FakeServer(FakeModel(default=by_keyword())) as server:
        args = ["test", str(sop_path), "-k", "nomatch", "--junit", str(junit), "--base-url", server.url]
        code, _, err = run_cli(capsys, *args)
        assert server.requests == []
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("error: no test or edge case matches -k 'nomatch' (cases: tests/T1, ")
    assert err.rstrip().endswith(f"; wrote {junit} (an empty suite: 0 tests)")
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "0" and suite.findall("testcase") == []
    assert {p.get("name"): p.get("value") for p in suite.iter("property")}["pattern"] == "nomatch"
    assert "no test or edge case matches" in str(suite.findtext("system-out"))


def test_the_junit_output_is_checked_before_any_model_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sop_path = write_suite_sop(tmp_path / "fruit.yaml")
    regular = tmp_path / "a_file"
    regular.write_text("x")
    with FakeServer(FakeModel(default=by_keyword())) as server:
        for junit, message in (
            (tmp_path, f"error: {tmp_path} is a directory; give a file name\n"),
            (regular / "j.xml", f"error: cannot write {regular}: Not a directory\n"),
        ):
            args = ["test", str(sop_path), "--junit", str(junit), "--base-url", server.url, "--no-cache"]
            assert run_cli(capsys, *args)[::2] == (2, message)
        assert server.requests == []


@pytest.mark.parametrize("repeat", ["0", "-1", "101"])
def test_repeat_out_of_bounds_is_one_line_exit_2(
    repeat: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sop_path = write_suite_sop(tmp_path / "fruit.yaml")
    code, _, err = run_cli(
        capsys, "test", str(sop_path), "--repeat", repeat, "--base-url", "http://127.0.0.1:9/v1"
    )
    assert (code, err) == (2, f"error: bad option: repeat: must be between 1 and 100, got {repeat}\n")


def test_an_unusable_endpoint_counts_every_request_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #21: the requests of the case the endpoint stopped on were not counted."""
    sop_path = write_suite_sop(tmp_path / "fruit.yaml")
    fake = FakeModel(default=Reply.error(401, "invalid api key", code="invalid_api_key"))
    with FakeServer(fake) as server:
        code, out, _ = run_cli(capsys, "test", str(sop_path), "--base-url", server.url, "--no-cache")
        sent = len(server.requests)
    assert code == 3 and sent >= 1
    assert f"; {sent} requests, 0 answers from cache" in out


def test_a_damaged_answer_cache_is_set_aside_and_a_new_one_started(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prelabel_cache: Path
) -> None:
    """Issue #21: a corrupt cache file failed every run, with a hint (--no-cache) that failed the same way."""
    sop_path = write_suite_sop(tmp_path / "fruit.yaml")
    prelabel_cache.mkdir()
    damaged = prelabel_cache / "answers.sqlite"
    damaged.write_bytes(b"this is not a SQLite database, it was cut off or overwritten" * 20)
    with FakeServer(FakeModel(default=by_keyword())) as server:
        code, out, err = run_cli(capsys, "test", str(sop_path), "--base-url", server.url, "--no-cache")
        assert code == 0, (out, err)
        assert (
            f"note: the answer cache {damaged} was not a readable database (file is not a database); it was "
            f"set aside as {damaged}.corrupt and a new cache started (its answers are asked again)"
        ) in out
        assert (prelabel_cache / "answers.sqlite.corrupt").read_bytes().startswith(b"this is not a SQLite")
        code, out, _ = run_cli(capsys, "test", str(sop_path), "--base-url", server.url)
        assert code == 0 and "0 requests, 4 answers from cache" in out and "note:" not in out
