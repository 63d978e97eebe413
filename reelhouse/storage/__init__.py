"""Object storage over keys like `media/<id>/original`: nothing outside a worker's scratch dir assumes a local path."""

from reelhouse.storage.base import RangeError, Storage, StorageError
from reelhouse.storage.factory import open_storage, storage_at
from reelhouse.storage.local import LocalStorage
from reelhouse.storage.memory import MemoryStorage

__all__ = ["LocalStorage", "MemoryStorage", "RangeError", "Storage", "StorageError", "open_storage", "storage_at"]
