"""reelhouse_sdk: the Python client for reelhouse (and FastPix's manage-videos API).

    from reelhouse_sdk import Reelhouse, Security

    with Reelhouse(security=Security(username="TOKEN_ID", password="SECRET"),
                   server_url="http://127.0.0.1:8000/v1/") as client:
        media = client.uploads.upload_file("clip.mp4", title="My clip")
        client.manage_videos.wait_until_ready(media.id)
"""

from reelhouse_sdk import errors, models
from reelhouse_sdk._core import Operation, ReelhouseCore, RequestOptions, Security
from reelhouse_sdk.client import Reelhouse
from reelhouse_sdk.funcs import Result
from reelhouse_sdk.retries import BackoffStrategy, RetryConfig

__version__ = "0.1.0"
__all__ = [
    "BackoffStrategy", "Operation", "Reelhouse", "ReelhouseCore", "RequestOptions", "Result", "RetryConfig",
    "Security", "errors", "models",
]
