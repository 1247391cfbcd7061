from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from accounts.models import User

# Every API error (config.api.exception_handler): a code, a sentence, the messages per field.
# Schema only; a plain Serializer cannot declare a field named `fields`.
ApiErrorOutput = inline_serializer(
    name="ApiError",
    fields={
        "code": serializers.CharField(),
        "detail": serializers.CharField(),
        "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    },
)


class UserRegisterInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    display_name = serializers.CharField(max_length=40, required=False, allow_blank=True)


class UserOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "display_name"]
        read_only_fields = fields


class AuthTokenInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)


class AuthTokenOutput(serializers.Serializer):
    token = serializers.CharField()
