"""Public fakes for tests (yours and ours): a scripted OpenAI-compatible model over ``httpx2.MockTransport``,
a loopback HTTP server, fault injection, and a stand-in for the embedded model's worker that really crashes.

Modules: ``fake`` (``FakeModel``, ``FakeServer``), ``_replies`` (reply kinds and their wire format),
``crashing_worker`` (``python -m prelabel.testing.crashing_worker``: dies of SIGSEGV on cue).
May import: anything in prelabel; nothing in prelabel imports it.
"""

from prelabel.testing._replies import Reply, RequestRecord
from prelabel.testing.fake import FakeModel, FakeServer

__all__ = ["FakeModel", "FakeServer", "Reply", "RequestRecord"]
