"""The HTTP backend: the store and the blobs of a ``labline server``
(``LABLINE_URI=http://host:port`` with ``LABLINE_TOKEN``)."""

from ._blobs import HttpBlobStore as HttpBlobStore
from ._store import HttpStore as HttpStore
from ._transport import HttpTransport as HttpTransport
from ._transport import RetryPolicy as RetryPolicy

__all__ = ["HttpBlobStore", "HttpStore", "HttpTransport", "RetryPolicy"]
