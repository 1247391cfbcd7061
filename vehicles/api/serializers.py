from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from vehicles.models import Vehicle, VehicleEvent, VehiclePhoto, VehicleSpec
from vehicles.validators import validate_vin

VEHICLE_INPUT_FIELDS = ["make", "model", "year", "vin", "trim", "mileage", "colour", "description"]


class VehicleSpecInput(serializers.Serializer):
    name = serializers.CharField(max_length=60)
    value = serializers.CharField(max_length=200)


class VehicleUpdateInput(serializers.ModelSerializer):
    """Parses types and applies the model's field rules (the VIN validator's message included).

    The service repeats those checks and adds the rest (VIN not already registered).
    """

    class Meta:
        model = Vehicle
        fields = VEHICLE_INPUT_FIELDS
        # No UniqueValidator: the service checks the normalised VIN and says so in its words.
        extra_kwargs = {"vin": {"validators": [validate_vin], "max_length": 64}}


class VehicleCreateInput(VehicleUpdateInput):
    specs = VehicleSpecInput(many=True, required=False)

    class Meta(VehicleUpdateInput.Meta):
        fields = [*VEHICLE_INPUT_FIELDS, "specs"]


class VehicleOwnerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField(source="public_name")


class VehiclePhotoOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = VehiclePhoto
        fields = ["id", "url", "caption"]

    def get_url(self, photo: VehiclePhoto) -> str:
        return _absolute(self.context, photo.image.url)


class VehicleSpecOutput(serializers.ModelSerializer):
    class Meta:
        model = VehicleSpec
        fields = ["id", "name", "value"]


class VehicleEventOutput(serializers.ModelSerializer):
    class Meta:
        model = VehicleEvent
        fields = ["id", "date", "title", "text"]


class VehicleSummaryOutput(serializers.ModelSerializer):
    owner = VehicleOwnerOutput()
    cover_url = serializers.SerializerMethodField(
        help_text="The first photo, or the generated placeholder picture."
    )
    page_url = serializers.SerializerMethodField(help_text="The vehicle's web page.")

    class Meta:
        model = Vehicle
        fields = [
            "id",
            "make",
            "model",
            "year",
            "vin",
            "trim",
            "mileage",
            "colour",
            "owner",
            "cover_url",
            "page_url",
            "created_at",
        ]

    @extend_schema_field(serializers.URLField())
    def get_cover_url(self, vehicle: Vehicle) -> str:
        return _absolute(self.context, vehicle.cover_url)

    @extend_schema_field(serializers.URLField())
    def get_page_url(self, vehicle: Vehicle) -> str:
        return _absolute(self.context, vehicle.get_absolute_url())


class VehicleDetailOutput(VehicleSummaryOutput):
    photos = VehiclePhotoOutput(many=True)
    specs = VehicleSpecOutput(many=True)
    events = VehicleEventOutput(many=True, help_text="The timeline, oldest first.")

    class Meta(VehicleSummaryOutput.Meta):
        fields = [
            *VehicleSummaryOutput.Meta.fields,
            "description",
            "photos",
            "specs",
            "events",
            "updated_at",
        ]


def _absolute(context: dict, url: str) -> str:
    request = context.get("request")
    return request.build_absolute_uri(url) if request is not None else url
