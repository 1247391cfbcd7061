"""GET/POST /api/v1/vehicles/ and GET/PATCH /api/v1/vehicles/{id}/.

Reading is public, anonymous clients included: the catalogue is what the pages show to anyone.
Writing needs a user (401 otherwise); changing a vehicle needs its owner (403 otherwise).
"""

from __future__ import annotations

from typing import cast

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.serializers import ApiErrorOutput
from accounts.models import User
from vehicles.api.serializers import (
    VehicleCreateInput,
    VehicleDetailOutput,
    VehicleSummaryOutput,
    VehicleUpdateInput,
)
from vehicles.selectors import vehicle_get_editable, vehicle_get_full, vehicle_list
from vehicles.services import vehicle_create, vehicle_update

ERROR_400 = OpenApiResponse(ApiErrorOutput, description="Invalid input, field by field.")
ERROR_401 = OpenApiResponse(ApiErrorOutput, description="Not authenticated.")
ERROR_403 = OpenApiResponse(ApiErrorOutput, description="Not the vehicle's owner.")
ERROR_404 = OpenApiResponse(ApiErrorOutput, description="No such vehicle.")


class VehicleListApi(GenericAPIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    serializer_class = VehicleSummaryOutput

    @extend_schema(
        operation_id="vehicles_list",
        tags=["vehicles"],
        summary="List vehicles, newest first (public)",
        parameters=[
            OpenApiParameter(
                "q", str, description="Words matched against make, model, trim, colour, year, VIN."
            )
        ],
        responses={200: VehicleSummaryOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        vehicles = vehicle_list(search=request.query_params.get("q", ""))
        page = self.paginate_queryset(vehicles)
        data = VehicleSummaryOutput(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    @extend_schema(
        operation_id="vehicles_create",
        tags=["vehicles"],
        summary="Register a vehicle you own",
        request=VehicleCreateInput,
        responses={201: VehicleDetailOutput, 400: ERROR_400, 401: ERROR_401},
    )
    def post(self, request: Request) -> Response:
        data = VehicleCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        vehicle = vehicle_create(owner=cast(User, request.user), **data.validated_data)
        vehicle = vehicle_get_full(vehicle_id=vehicle.pk)
        output = VehicleDetailOutput(vehicle, context={"request": request})
        return Response(output.data, status=status.HTTP_201_CREATED)


class VehicleDetailApi(GenericAPIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    serializer_class = VehicleDetailOutput

    @extend_schema(
        operation_id="vehicles_retrieve",
        tags=["vehicles"],
        summary="One vehicle with its photos, specs and timeline (public)",
        responses={200: VehicleDetailOutput, 404: ERROR_404},
    )
    def get(self, request: Request, vehicle_id: int) -> Response:
        vehicle = vehicle_get_full(vehicle_id=vehicle_id)
        return Response(VehicleDetailOutput(vehicle, context={"request": request}).data)

    @extend_schema(
        operation_id="vehicles_partial_update",
        tags=["vehicles"],
        summary="Change some of your vehicle's fields",
        request=VehicleUpdateInput,
        responses={
            200: VehicleDetailOutput,
            400: ERROR_400,
            401: ERROR_401,
            403: ERROR_403,
            404: ERROR_404,
        },
    )
    def patch(self, request: Request, vehicle_id: int) -> Response:
        vehicle = vehicle_get_editable(vehicle_id=vehicle_id, user=request.user)
        data = VehicleUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        vehicle_update(user=cast(User, request.user), vehicle=vehicle, data=data.validated_data)
        vehicle = vehicle_get_full(vehicle_id=vehicle_id)
        return Response(VehicleDetailOutput(vehicle, context={"request": request}).data)
