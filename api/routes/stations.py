"""Station outlines for maps: every authenticated role (fences are not personal data)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import AnyRole, SessionDep, StateDep
from api.negotiate import GEOJSON
from api.schemas import StationCollection, errors
from geo.geojson import stations_collection

router = APIRouter(prefix="/v1", tags=["maps"])


@router.get(
    "/stations",
    response_model=StationCollection,
    responses={
        200: {"content": {GEOJSON: {"schema": {"$ref": "#/components/schemas/StationCollection"}}}},
        **errors(401, 503),
    },
    summary="Every station's fence as GeoJSON (any authenticated role)",
)
def get_stations(session: SessionDep, state: StateDep, caller: AnyRole) -> Response:
    """The stored station fences as a GeoJSON FeatureCollection (longitude, latitude), from the
    station catalog the service keeps (rebuilt when a station changes), rendered once per
    version of the stations. Not audited: no person's data."""
    del caller
    stations = state.stations.current(session)
    body = stations.derived(
        "stations.geojson", lambda: orjson.dumps(stations_collection(stations.stations))
    )
    return Response(body, media_type=GEOJSON)
