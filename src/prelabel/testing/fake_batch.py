"""A fake OpenAI Files + Batches API, served by ``FakeModel`` (mock transport) and ``FakeServer`` (loopback).

``POST /files`` (multipart upload), ``GET /files/{id}`` and ``/files/{id}/content``, ``POST /batches``,
``GET /batches`` (the list, newest first, paged with ``limit``/``after``), ``GET /batches/{id}``. A batch
runs when it is first polled (or after ``polls`` polls): each request line goes through the ``FakeModel``'s
reply logic (its script, then its default), so scripted replies become output lines (answers, off-schema
answers) or error lines (``Reply.error``). Faults::

    fake.batch_api.outcome = "expired"      # unanswered lines go to the error file as batch_expired
    fake.batch_api.answer_first = 3         # only the first 3 lines are answered (with "expired")
    fake.batch_api.partial = 2              # the output file drops all but 2 answered lines, silently
    fake.batch_api.fail_with = Reply.error(401, "bad key")   # every Files/Batches call fails so
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from prelabel.testing._replies import Reply, dump

if TYPE_CHECKING:
    from prelabel.testing.fake import FakeModel

__all__ = ["BATCH_HEADER", "FakeBatchAPI"]

#: Header on the ``RequestRecord`` of a line answered inside a batch (online requests lack it).
BATCH_HEADER = "x-fake-batch"

Response = tuple[int, dict[str, str], bytes]
_JSON = {"content-type": "application/json"}


class FakeBatchAPI:
    """Files and Batches endpoints over a ``FakeModel``; ``files``, ``batches`` and ``calls`` are logged."""

    def __init__(self, model: FakeModel):
        self.model = model
        self.files: dict[str, bytes] = {}
        self._meta: dict[str, dict[str, str]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.polls = 1
        """Polls of a batch before it runs (0: it stays in progress until ``polls`` is set)."""
        self.outcome = "completed"
        self.answer_first: int | None = None
        self.partial: int | None = None
        self.fail_with: Reply | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def handles(self, path: str) -> bool:
        """True for the Files and Batches paths."""
        return "/files" in path or "/batches" in path

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        """Status, headers and body for one Files/Batches request."""
        self.calls.append((method, path))
        if self.fail_with is not None:
            return self.fail_with.status, {**_JSON, **self.fail_with.headers}, dump(self.fail_with.content)
        parts = path.split("?", 1)[0].rstrip("/").split("/")
        tail = parts[parts.index("files" if "/files" in path else "batches") :]
        with self._lock:
            if method == "POST" and tail == ["files"]:
                return self._upload(headers, body)
            if method == "GET" and len(tail) >= 2 and tail[0] == "files" and tail[1] in self.files:
                return self._file(tail[1], content=tail[2:] == ["content"])
            if method == "POST" and tail == ["batches"]:
                return self._create(json.loads(body or b"{}"))
            if method == "GET" and tail == ["batches"]:
                return self._list(urllib.parse.parse_qs(path.partition("?")[2]))
            if method == "GET" and len(tail) == 2 and tail[1] in self.batches:
                return self._poll(tail[1])
        return 404, _JSON, dump({"error": {"message": f"no such object: {path}", "code": "not_found"}})

    # ------------------------------------------------------------------------------------------------ files

    def _new_file(self, content: bytes, purpose: str, name: str) -> str:
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = content
        self._meta[file_id] = {"filename": name, "purpose": purpose}
        return file_id

    def _upload(self, headers: dict[str, str], body: bytes) -> Response:
        prefix = f"content-type: {headers.get('content-type', '')}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(prefix + body)
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            fields[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
        name, content = fields.get("file", ("upload.jsonl", b""))
        purpose = fields.get("purpose", (None, b"batch"))[1].decode()
        return self._file(self._new_file(content, purpose, name or "upload.jsonl"))

    def _file(self, file_id: str, content: bool = False) -> Response:
        if content:
            return 200, {"content-type": "application/octet-stream"}, self.files[file_id]
        meta = self._meta[file_id]
        return 200, _JSON, dump({
            "id": file_id, "object": "file", "bytes": len(self.files[file_id]), "created_at": 0,
            "filename": meta["filename"], "purpose": meta["purpose"], "status": "processed",
        })  # fmt: skip

    # ---------------------------------------------------------------------------------------------- batches

    def _create(self, request: dict[str, Any]) -> Response:
        if request.get("input_file_id") not in self.files:
            return 400, _JSON, dump({"error": {"message": "unknown input_file_id", "code": "invalid_file"}})
        batch_id = f"batch_{next(self._ids)}"
        lines = self.files[request["input_file_id"]].decode().splitlines()
        self.batches[batch_id] = {
            "id": batch_id, "object": "batch", "endpoint": request.get("endpoint"), "errors": None,
            "input_file_id": request["input_file_id"], "completion_window": request.get("completion_window"),
            "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": 0,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": request.get("metadata"), "_polls": 0,
        }  # fmt: skip
        self.batches[batch_id]["created_at"] = int(time.time())
        return 200, _JSON, dump(self._public(batch_id))

    def _list(self, query: dict[str, list[str]]) -> Response:
        """``GET /batches?limit=N&after=ID``: the batches, newest first, a page at a time."""
        newest = list(reversed(self.batches))
        after = query.get("after", [None])[0]
        if after in self.batches:
            newest = newest[newest.index(after) + 1 :]
        limit = int(query.get("limit", ["20"])[0])
        page = [self._public(batch_id) for batch_id in newest[:limit]]
        return 200, _JSON, dump({
            "object": "list", "data": page, "has_more": len(newest) > limit,
            "first_id": page[0]["id"] if page else None, "last_id": page[-1]["id"] if page else None,
        })  # fmt: skip

    def _public(self, batch_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.batches[batch_id].items() if not k.startswith("_")}

    def _poll(self, batch_id: str) -> Response:
        batch = self.batches[batch_id]
        if batch["status"] in ("validating", "in_progress"):
            batch["_polls"] += 1
            batch["status"] = "in_progress"
            if self.polls and batch["_polls"] >= self.polls:
                self._run(batch)
        return 200, _JSON, dump(self._public(batch_id))

    def _run(self, batch: dict[str, Any]) -> None:
        """Answer the batch's lines through the fake model, then apply the configured faults."""
        requests = [json.loads(line) for line in self.files[batch["input_file_id"]].decode().splitlines()]
        answered: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for number, request in enumerate(requests):
            if self.answer_first is not None and number >= self.answer_first:
                error = {"code": "batch_expired", "message": "This request could not be executed before the "
                         "completion window expired."}  # fmt: skip
                errors.append({"id": f"batch_req_{number}", "custom_id": request["custom_id"],
                               "response": None, "error": error})  # fmt: skip
                continue
            reply, status, _, payload = self.model.respond(
                "/v1/chat/completions", {BATCH_HEADER: batch["id"]}, json.dumps(request["body"]).encode()
            )
            ok = status == 200 and reply.kind not in ("malformed", "timeout", "disconnect")
            body = json.loads(payload) if ok or status >= 400 else {"error": {"message": reply.kind}}
            line = {"id": f"batch_req_{number}", "custom_id": request["custom_id"],
                    "response": {"status_code": status or 500, "request_id": f"req_{number}", "body": body},
                    "error": None}  # fmt: skip
            (answered if ok else errors).append(line)
        if self.partial is not None:
            answered = answered[: self.partial]
        batch["status"] = self.outcome
        batch["request_counts"].update(completed=len(answered), failed=len(errors))
        if answered:
            batch["output_file_id"] = self._new_file(_jsonl(answered), "batch_output", "output.jsonl")
        if errors:
            batch["error_file_id"] = self._new_file(_jsonl(errors), "batch_output", "errors.jsonl")


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(dump(line) + b"\n" for line in lines)
