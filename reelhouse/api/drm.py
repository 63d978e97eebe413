"""`/on-demand/drm-configurations`: the DRM configurations of the workspace. This server does not perform DRM
(`accessPolicy: "drm"` is refused with a 400), so a workspace has none: the list is empty and no id exists."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from reelhouse.api.deps import Authenticated, PageDep, uuid_param
from reelhouse.api.routing import WireRoute
from reelhouse.wire.errors import ApiError
from reelhouse.wire.schemas import DrmConfigurationOut, Envelope, ListEnvelope, Pagination

router = APIRouter(route_class=WireRoute, tags=["drm"])


@router.get("/on-demand/drm-configurations", response_model=ListEnvelope[DrmConfigurationOut],
            summary="Get list of DRM configuration IDs")
def list_drm_configurations(_: Authenticated, page: PageDep) -> ListEnvelope[DrmConfigurationOut]:
    return ListEnvelope(data=[], pagination=Pagination(total_records=0, current_offset=page.page, offset_count=0))


@router.get("/on-demand/drm-configurations/{drmConfigurationId}", response_model=Envelope[DrmConfigurationOut],
            summary="Get DRM configuration by ID")
def read_drm_configuration(_: Annotated[str, Depends(uuid_param("drmConfigurationId"))]) -> Envelope[DrmConfigurationOut]:
    """FastPix's answer for an id the workspace does not have (spec 3: a 400, not a 404)."""
    raise ApiError(400, "DRM ID does not exist", "The DRM configuration ID does not exist for the workspace.")
