"""Items carrying personal data in the markets' formats, and the check that none of it reached a server.

Importable like ``helpers``. ``SECRETS`` are the values every masked request must lack (emails, Indonesian,
Thai, Vietnamese and Malaysian phone numbers in national and international form, Luhn-valid cards, an order
number the SOP's own pattern names); ``KEPT`` are look-alikes that must reach the model as they are (a
Luhn-invalid 16-digit reference, a date, an amount).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

import prelabel
from prelabel.testing import FakeModel

ITEMS: list[dict[str, Any]] = [
    {
        "id": "id1",
        "language": "id",
        "text": "Paket belum sampai, hubungi 0812-3456-7890 atau +62 812 3456 7890, "
        "email budi.santoso@example.co.id",
    },
    {"id": "th1", "language": "th", "text": "ของยังไม่มา โทร 081 234 5678 หรือ +66 81 234 5678"},
    {
        "id": "vn1",
        "language": "vi",
        "text": "Chưa nhận hàng từ 12/03/2024, gọi 0912 345 678 / +84 91 234 56 78",
    },
    {
        "id": "my1",
        "language": "ms",
        "text": "Barang rosak, call 012-345 6789 or +60 12-345 6789, kad 4111 1111 1111 1111",
    },
    {
        "id": "en1",
        "text": "Refund card 5500-0000-0000-0004 please, order ORD-2024-000123, ref 1234 5678 9012 3456, "
        "paid Rp 85.000.000 on 2024-03-12",
    },
]
SECRETS = [
    "budi.santoso@example.co.id",
    "0812-3456-7890",
    "+62 812 3456 7890",
    "081 234 5678",
    "+66 81 234 5678",
    "0912 345 678",
    "+84 91 234 56 78",
    "012-345 6789",
    "+60 12-345 6789",
    "4111 1111 1111 1111",
    "5500-0000-0000-0004",
    "ORD-2024-000123",
]
KEPT = ["1234 5678 9012 3456", "12/03/2024", "Rp 85.000.000", "2024-03-12"]
MASK = "email,phone,card"
#: The SOP's own pattern: order numbers, masked as <ORDER_n>.
PRIVACY = {"patterns": [{"name": "ORDER", "regex": r"ORD-\d{4}-\d{6}"}]}


def digits(value: str) -> str:
    """The digits of ``value`` (a number written without separators must not get through either)."""
    return re.sub(r"\D", "", value)


def leaked(texts: list[str]) -> list[str]:
    """The secrets found in ``texts`` (as written, or their digits run together)."""
    found = []
    for secret in SECRETS:
        forms = {secret} | ({digits(secret)} if len(digits(secret)) >= 7 else set())
        if any(form in text for text in texts for form in forms):
            found.append(secret)
    return found


def sent_texts(fake: FakeModel) -> list[str]:
    """Everything the fake server received: request bodies and uploaded (Batch API) files."""
    bodies = [json.dumps(r.body, ensure_ascii=False) for r in fake.requests]
    files = [content.decode("utf-8", "replace") for content in fake.batch_api.files.values()]
    return bodies + files


def write_items(path: Path, rows: list[dict[str, Any]] = ITEMS) -> Path:
    """``rows`` as a JSONL file at ``path``."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def privacy_sop(path: Path, privacy: dict[str, Any] | None = None, tests: bool = False) -> Path:
    """The bundled intent SOP with a ``privacy:`` section (default: the ORDER pattern) at ``path``; with
    ``tests``, its test suite is the items above (each expected to be late delivery)."""
    yaml = YAML()
    data = yaml.load(prelabel.bundled_sop_path("customer_feedback_intent").read_text(encoding="utf-8"))
    data["privacy"] = privacy if privacy is not None else PRIVACY
    if tests:
        data["tests"] = [
            {"id": f"P{n}", "text": item["text"], "expect": "logistics.late_delivery"}
            for n, item in enumerate(ITEMS, start=1)
        ]
        data["edge_cases"] = []
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump(data, handle)
    return path
