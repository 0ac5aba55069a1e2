#!/usr/bin/env bash
# Re-record the vcrpy cassettes of tests/llm/test_cassettes.py (tests/llm/cassettes/test_cassettes/*.yaml).
#
# Default: starts `python -m llama_cpp.server` on the bundled Gemma 3 270M on a free local port, records, stops
# it. Needs `pip install -e '.[test,record]'` (the llama.cpp server).
#
# Against another OpenAI-compatible endpoint, set its URL, model and key instead:
#   PRELABEL_CASSETTE_BASE_URL=https://api.openai.com/v1 PRELABEL_CASSETTE_MODEL=gpt-4o-mini \
#     OPENAI_API_KEY=sk-... scripts/record_cassettes.sh
#   PRELABEL_CASSETTE_BASE_URL=http://vllm-host:8000/v1 PRELABEL_CASSETTE_MODEL=Qwen/Qwen2.5-7B-Instruct \
#     scripts/record_cassettes.sh
# PRELABEL_CASSETTE_MODE picks the instructor mode (default: tools). Extra arguments go to pytest.
# Keys and server addresses never reach the cassettes (headers filtered, host and model replaced); the
# last step checks that.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYDANTIC_ERRORS_INCLUDE_URL=0  # re-ask messages quote validation errors: keep them version-independent

if [ -z "${PRELABEL_CASSETTE_BASE_URL:-}" ]; then
  python -c "import llama_cpp.server.app" 2>/dev/null || {
    echo "the llama.cpp server is missing: pip install -e '.[record]'" >&2; exit 2; }
  work=$(mktemp -d)
  port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # The bundled GGUF has no chat template; prelabel.local's Gemma template keeps the SOP system message.
  model=$(python - "$work/tokenizer_config.json" <<'PY'
import json, sys
from prelabel.llm.local.model import GEMMA_TOKENIZER_CONFIG, default_model_path
json.dump(GEMMA_TOKENIZER_CONFIG, open(sys.argv[1], "w"))
print(default_model_path())
PY
)
  # shellcheck disable=SC2086
  python -m llama_cpp.server --model "$model" --host 127.0.0.1 --port "$port" --n_ctx 4096 --seed 0 \
    --chat_format hf-tokenizer-config --hf_tokenizer_config_path "$work/tokenizer_config.json" \
    ${LLAMA_SERVER_ARGS:-} > "$work/server.log" 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
  for _ in $(seq 1 120); do
    if python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v1/models', timeout=1)" \
        2>/dev/null; then break; fi
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 3; }
    sleep 0.5
  done
  export PRELABEL_CASSETTE_BASE_URL="http://127.0.0.1:$port/v1"
fi

export PRELABEL_CASSETTE_MODEL="${PRELABEL_CASSETTE_MODEL:-gemma-3-270m}"
export PRELABEL_CASSETTE_MODE="${PRELABEL_CASSETTE_MODE:-tools}"
echo "recording against $PRELABEL_CASSETTE_BASE_URL (model $PRELABEL_CASSETTE_MODEL)" >&2
mkdir -p tests/llm/cassettes/test_cassettes
# Replay sends the model name and mode recorded here (the server address is never stored).
python - "${server:+llama_cpp.server}" <<'PY'
import json, os, sys
from importlib.metadata import version
server = f"llama_cpp.server {version('llama-cpp-python')} + bundled Gemma 3 270M" if sys.argv[1] else "custom"
note = {"model": os.environ["PRELABEL_CASSETTE_MODEL"], "mode": os.environ["PRELABEL_CASSETTE_MODE"], "server": server}
with open("tests/llm/cassettes/test_cassettes/recording.json", "w") as f:
    f.write(json.dumps(note, indent=2) + "\n")
PY
python -m pytest tests/llm/test_cassettes.py --record-mode=rewrite -q "$@"

# Replay offline, as CI does, and make sure no credential was stored.
env -u PRELABEL_CASSETTE_BASE_URL -u PRELABEL_CASSETTE_MODEL -u PRELABEL_CASSETTE_MODE -u OPENAI_API_KEY \
  python -m pytest tests/llm/test_cassettes.py -q
if grep -rniE 'authorization|bearer|api-key|\bsk-[A-Za-z0-9_-]{8,}' tests/llm/cassettes/test_cassettes/; then
  echo "credentials found in cassettes: do not commit them" >&2
  exit 1
fi
