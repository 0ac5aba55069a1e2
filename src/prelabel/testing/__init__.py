"""Public fakes for tests (yours and ours): a scripted OpenAI-compatible model over ``httpx2.MockTransport``,
a loopback HTTP server, and fault injection.

Modules: ``fake`` (``FakeModel``, ``FakeServer``), ``_replies`` (reply kinds and their wire format).
May import: ``errors`` only; nothing in prelabel imports it.
"""

from prelabel.testing._replies import Reply, RequestRecord
from prelabel.testing.fake import FakeModel, FakeServer

__all__ = ["FakeModel", "FakeServer", "Reply", "RequestRecord"]
