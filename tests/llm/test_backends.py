"""Backends are registered objects: prelabel's own under the entry-point group ``prelabel.backends``, a plugin
package's the same way; its detection, mode, refused options, client, price and Batch API flag are used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import prelabel
from helpers import fast_retry
from prelabel import InputError
from prelabel.llm import registry
from prelabel.llm.caller import ModelCaller
from prelabel.llm.endpoints import resolve_endpoint
from prelabel.llm.instructed import Mode
from prelabel.prompt.schema import response_model
from prelabel.testing.fake import FakeModel, FakeServer

ROOT = Path(__file__).resolve().parents[2]
SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
SOP = prelabel.bundled_sop("customer_feedback_intent")
MESSAGES = [{"role": "system", "content": "SOP"}, {"role": "user", "content": "item"}]

ACME = '''\
"""Acme Inference: a tiny third-party backend."""

from prelabel import Backend


class Acme(Backend):
    name = "acme"
    title = "Acme Inference"
    default_mode = "json_schema"
    batch_api = False

    def detect(self, base_url, model):
        return model.startswith("acme/")

    def request_options(self, model, options):
        return {key: value for key, value in options.items() if key != "temperature"}  # refused

    def client(self, **settings):
        return super().client(**settings).with_options(default_headers={"x-acme-tenant": "labeling"})

    def price(self, model):
        return {"input": 1.0, "output": 2.0}
'''


def install(site: Path, name: str, entries: dict[str, str], modules: dict[str, str]) -> Path:
    """What ``pip install`` leaves of a package ``name`` in ``site``: its modules and a ``*.dist-info`` whose
    ``entry_points.txt`` registers ``entries`` as backends (``importlib.metadata`` reads nothing else)."""
    dist = site / f"{name.replace('-', '_')}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
    lines = "".join(f"{key} = {value}\n" for key, value in entries.items())
    (dist / "entry_points.txt").write_text(f"[{registry.GROUP}]\n{lines}", encoding="utf-8")
    for module, code in modules.items():
        (site / f"{module}.py").write_text(code, encoding="utf-8")
    return site


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """``on_path(site)``: ``site`` goes first on ``sys.path`` and the registry forgets what it found."""

    def put(site: Path) -> None:
        monkeypatch.syspath_prepend(str(site))
        registry._forget()

    yield put
    registry._forget()


def test_prelabels_own_backends_are_the_entry_points_its_pyproject_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    entries = declared["entry-points"][registry.GROUP]
    found = registry.backends()
    assert sorted(found) == sorted(entries)
    assert set(entries) == {
        *("openai", "azure", "vllm", "ollama", "llamacpp", "litellm", "local", "unknown"),
        *("anthropic", "gemini"),
    }
    for name, backend in found.items():
        module, attr = entries[name].split(":")
        assert (type(backend).__module__, type(backend).__name__, backend.name) == (module, attr, name)
    # asked in this order: the embedded model by its name, the URL guesses, then any server
    order = list(found)
    assert order[0] == "local" and order[-1] == "unknown"


def test_a_plugin_package_adds_a_backend_that_labels_through_its_quirks(tmp_path: Path) -> None:
    site = install(tmp_path / "site", "prelabel-acme", {"acme": "acme_backend:Acme"}, {"acme_backend": ACME})
    items = tmp_path / "items.jsonl"
    items.write_text(
        "".join(json.dumps({"id": f"a{n}", "text": f"parcel {n} late"}) + "\n" for n in range(3))
    )
    paths = [str(site), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    fake = FakeModel()
    with FakeServer(fake) as server:

        def prelabel_run(*extra: str) -> subprocess.CompletedProcess[str]:
            command = [
                sys.executable,
                "-m",
                "prelabel",
                "run",
                str(SOP_PATH),
                str(items),
                "--model",
                "acme/tiny",
            ]
            command += ["--base-url", server.url, *extra]
            return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180)

        done = prelabel_run("-o", str(tmp_path / "run"))
        assert done.returncode == 0, done.stderr
        batch = prelabel_run("-o", str(tmp_path / "batch"), "--batch-api")
    assert len(fake.requests) == 3
    for request in fake.requests:  # the backend's mode, the option it refuses, its client's header
        assert request.body["response_format"]["type"] == "json_schema"
        assert "temperature" not in request.body and request.body["model"] == "acme/tiny"
        assert request.headers.get("x-acme-tenant") == "labeling"
    summary = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    assert (summary["endpoint"]["backend"], summary["endpoint"]["mode"]) == ("acme", "JSON_SCHEMA")
    usage = summary["usage"]  # priced by the backend: USD 1 / 2 per 1M input / output tokens
    assert summary["cost_usd"] == pytest.approx(
        (usage["prompt_tokens"] + 2 * usage["completion_tokens"]) / 1e6
    )
    assert batch.returncode == 2
    assert batch.stderr.strip() == (
        "error: the Batch API needs an OpenAI(-compatible) server; Acme Inference has none"
    )


@pytest.mark.parametrize(
    ("model", "url", "title"),
    [
        ("m", "http://localhost:11434/v1", "Ollama"),
        ("m", "http://vllm-gpu:8000/v1", "vLLM"),
        ("m", "http://127.0.0.1:8080/v1", "a llama.cpp server"),
        ("local", None, "the embedded model"),
    ],
)
def test_the_batch_api_is_refused_at_once_by_servers_without_one(
    tmp_path: Path, model: str, url: str | None, title: str
) -> None:
    """vLLM, Ollama and llama.cpp serve no Files/Batches API: before, the upload failed after retries."""
    with pytest.raises(InputError) as info:
        prelabel.submit_batch(
            SOP_PATH, [{"id": "a", "text": "late"}], tmp_path / "run", model=model, base_url=url
        )
    assert str(info.value) == f"the Batch API needs an OpenAI(-compatible) server; {title} has none"
    assert not (tmp_path / "run").exists()


def test_a_litellm_proxy_is_recognised_by_its_host_and_serves_the_batch_api() -> None:
    endpoint = resolve_endpoint(model="gpt-4o", base_url="http://litellm.internal:4000/v1", env={})
    assert (endpoint.backend, endpoint.mode, endpoint.kind.batch_api) == ("litellm", Mode.TOOLS, True)
    assert resolve_endpoint(model="m", base_url="http://localhost:4000/v1", env={}).backend == "unknown"


def test_reasoning_models_get_no_temperature_except_in_the_embedded_model() -> None:
    def first_request(model: str, base_url: str | None) -> dict[str, object]:
        caller = ModelCaller(
            resolve_endpoint(model, base_url, "k", env={}), response_model(SOP), max_tokens=64
        )
        return caller.request_body(MESSAGES)

    served = first_request("openai/o3-mini", "http://router.example/v1")  # any server relaying OpenAI's
    assert (
        "temperature" not in served and served["max_completion_tokens"] == 64 and "max_tokens" not in served
    )
    gguf = first_request("local:/models/o3-mini-distill.gguf", None)  # a llama.cpp model takes them
    assert gguf["temperature"] == 0.0 and gguf["max_tokens"] == 64


def test_plugin_order_comes_before_the_url_guesses_and_after_the_embedded_model(
    tmp_path: Path, on_path: Callable[[Path], None]
) -> None:
    greedy = "from prelabel import Backend\n\nclass Greedy(Backend):\n    name = 'greedy'\n\n" + (
        "    def detect(self, base_url, model):\n        return True\n"
    )
    on_path(
        install(
            tmp_path / "site",
            "prelabel-greedy",
            {"greedy": "greedy_backend:Greedy"},
            {"greedy_backend": greedy},
        )
    )
    assert resolve_endpoint(model="m", base_url="http://localhost:11434/v1", env={}).backend == "greedy"
    assert resolve_endpoint(model="local", env={}).backend == "local"


@pytest.mark.parametrize(
    ("entries", "module", "message"),
    [
        (
            {"broken": "broken_0:Broken"},
            "1 / 0\n",
            "backend 'broken' (broken_0:Broken, from prelabel-broken 1.0) failed to load: "
            "ZeroDivisionError: division by zero",
        ),
        (
            {"broken": "broken_1:thing"},
            "thing = object()\n",
            "backend 'broken' (broken_1:thing, from prelabel-broken 1.0) is not a prelabel.Backend "
            "(a object)",
        ),
        (
            {"broken": "broken_2:Named"},
            "from prelabel import Backend\n\nclass Named(Backend):\n    name = 'other'\n",
            "backend 'broken' (broken_2:Named, from prelabel-broken 1.0) is named 'other' by its backend",
        ),
        (
            {"ollama": "broken_3:Ollama"},
            "",
            "backend 'ollama' is registered twice: by 'ollama' (broken_3:Ollama, from prelabel-broken "
            "1.0) and by 'ollama' (prelabel.llm.backends.ollama:Ollama, from prelabel",
        ),
    ],
)
def test_a_bad_plugin_is_one_clear_error_naming_it(
    tmp_path: Path, on_path: Callable[[Path], None], entries: dict[str, str], module: str, message: str
) -> None:
    module_name = next(iter(entries.values())).split(":")[0]  # one per case: a module imports once
    on_path(install(tmp_path / "site", "prelabel-broken", entries, {module_name: module}))
    with pytest.raises(InputError) as info:
        resolve_endpoint(model="m", base_url="http://localhost:8000/v1", env={})
    assert str(info.value).startswith(message)


def test_metadata_older_than_the_code_asks_for_a_reinstall(
    tmp_path: Path, on_path: Callable[[Path], None]
) -> None:
    on_path(install(tmp_path / "site", "prelabel", {}, {}))  # an install made before the group existed
    with pytest.raises(InputError, match=r"prelabel's own backends are not registered .* reinstall prelabel"):
        prelabel.Labeler(SOP, base_url="http://localhost:8000/v1", retry=fast_retry())
