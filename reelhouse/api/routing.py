"""The route class every /v1 router uses."""

from typing import Any

from fastapi.routing import APIRoute


class WireRoute(APIRoute):
    """Leaves unset (None) fields out of responses, as FastPix does, instead of sending nulls."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["response_model_exclude_none"] = True
        super().__init__(*args, **kwargs)
