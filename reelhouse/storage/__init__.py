"""Object storage over keys like `media/<id>/original`: nothing outside a worker's scratch dir assumes a local path."""

from reelhouse.storage.base import Storage, StorageError
from reelhouse.storage.local import LocalStorage

__all__ = ["LocalStorage", "Storage", "StorageError"]
