"""Benchmark preparing one request per item for each wire format: OpenAI's chat completions, Anthropic's
Messages, Gemini's generateContent (the bundled SOP, text items, tools mode).

Prints, per provider, the CPU milliseconds per item to render the prompt and prepare the request, side by side
with instructor's own preparation of every request (what a native request cost before ``PreparedAnswer``
reused the first one of its kind), and checks that both give the same request.

    python benchmarks/native_requests.py            # 300 items per provider
    python benchmarks/native_requests.py --items 1000
"""

from __future__ import annotations

import argparse
import time

import prelabel
from prelabel.llm.backends.anthropic import AnthropicWire
from prelabel.llm.backends.gemini import GeminiWire
from prelabel.llm.instructed import Mode, PreparedAnswer
from prelabel.llm.wire import Wire
from prelabel.prompt.rendering import render_prompt
from prelabel.prompt.schema import response_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=300)
    args = parser.parse_args()
    sop = prelabel.load_sop(prelabel.bundled_sop_path("customer_feedback_intent"))
    model = response_model(sop)
    base = {"model": "m", "temperature": 0.0, "max_tokens": 1024}
    print(f"{'provider':<10} {'reused ms/item':>15} {'every time ms/item':>19} {'ratio':>6}")
    for name, wire in (("openai", Wire()), ("anthropic", AnthropicWire()), ("genai", GeminiWire())):
        prepared = PreparedAnswer(model, Mode.TOOLS, wire.provider)
        for i in range(3):  # the reused request is instructor's own
            sent, kwargs = wire.prepare(render_prompt(sop, {"id": "x", "text": f"check {i}"}).messages, base)
            assert prepared.request(sent, kwargs) == prepared._prepare(list(sent), kwargs), name
        timings = []
        for reuse in (True, False):
            start = time.process_time()
            for i in range(args.items):
                sent, kwargs = wire.prepare(
                    render_prompt(sop, {"id": "x", "text": f"item {i}"}).messages, base
                )
                if reuse:
                    prepared.request(sent, kwargs)
                else:  # instructor's preparation of every request
                    prepared._prepare(list(sent), kwargs)
            timings.append((time.process_time() - start) / args.items * 1000)
        print(f"{name:<10} {timings[0]:>15.2f} {timings[1]:>19.2f} {timings[1] / timings[0]:>6.1f}")


if __name__ == "__main__":
    main()
