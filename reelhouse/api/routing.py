"""The route class every /v1 router uses."""

import functools
from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

from fastapi import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter


def wire_json(model: BaseModel) -> bytes:
    """A wire model as a client receives it: by alias, Nones left out (every `WireRoute` answer is rendered so)."""
    return model.__pydantic_serializer__.to_json(model, by_alias=True, exclude_none=True)


class WireRoute(APIRoute):
    """Leaves unset (None) fields out of responses, as FastPix does, instead of sending nulls.

    The endpoint's answer is validated and rendered to JSON here, by pydantic-core in one call (by alias, Nones left
    out), instead of by FastAPI's response handling: a plain `def` endpoint then renders in its own worker thread,
    not in a second trip to the thread pool, and an `async def` one (the busiest reads) skips FastAPI's generic
    serialisation and the JSON encoding that follows it.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["response_model_exclude_none"] = True
        endpoint = self._rendering_async(endpoint) if iscoroutinefunction(endpoint) else self._rendering(endpoint)
        super().__init__(path, endpoint, **kwargs)
        self._adapter = None if self.response_model is None else TypeAdapter(self.response_model)

    def _render(self, answer: Any) -> Any:
        if self._adapter is None or isinstance(answer, Response):
            return answer
        body = wire_json(self._adapter.validate_python(answer, from_attributes=True))
        return Response(body, status_code=self.status_code or 200, media_type="application/json")

    def _rendering(self, endpoint: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(endpoint)  # FastAPI reads the parameters and the return type through the wrapper
        def rendered(*args: Any, **kwargs: Any) -> Any:
            return self._render(endpoint(*args, **kwargs))

        return rendered

    def _rendering_async(self, endpoint: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(endpoint)
        async def rendered(*args: Any, **kwargs: Any) -> Any:
            return self._render(await endpoint(*args, **kwargs))

        return rendered
