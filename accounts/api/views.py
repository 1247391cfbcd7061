"""POST /api/v1/auth/register/ and POST /api/v1/auth/token/: open to anyone, throttled."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import (
    ApiErrorOutput,
    AuthTokenInput,
    AuthTokenOutput,
    UserOutput,
    UserRegisterInput,
)
from accounts.services import auth_token_obtain, user_register
from accounts.throttles import AuthRateThrottle


class UserRegisterApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthRateThrottle]

    @extend_schema(
        operation_id="auth_register",
        tags=["auth"],
        summary="Create an account",
        request=UserRegisterInput,
        responses={
            201: UserOutput,
            400: OpenApiResponse(ApiErrorOutput, description="Invalid input or username taken."),
            429: OpenApiResponse(ApiErrorOutput, description="Too many attempts."),
        },
    )
    def post(self, request: Request) -> Response:
        data = UserRegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_register(**data.validated_data)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class AuthTokenApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthRateThrottle]

    @extend_schema(
        operation_id="auth_token",
        tags=["auth"],
        summary="Exchange a username and password for an API token",
        description="Send the token as `Authorization: Token <token>` on later requests.",
        request=AuthTokenInput,
        responses={
            200: AuthTokenOutput,
            400: OpenApiResponse(ApiErrorOutput, description="Wrong username or password."),
            429: OpenApiResponse(ApiErrorOutput, description="Too many attempts."),
        },
    )
    def post(self, request: Request) -> Response:
        data = AuthTokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        token = auth_token_obtain(request=request, **data.validated_data)
        return Response(AuthTokenOutput({"token": token.key}).data)
