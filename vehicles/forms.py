"""Page forms: they parse and show; the services in vehicles.services decide."""

from __future__ import annotations

from django import forms

from vehicles.models import Vehicle, VehicleEvent, VehiclePhoto, VehicleSpec
from vehicles.services import vin_normalize


class VehicleForm(forms.ModelForm):
    required_css_class = "required"

    class Meta:
        model = Vehicle
        fields = ["make", "model", "year", "trim", "vin", "mileage", "colour", "description"]
        widgets = {
            "year": forms.NumberInput(attrs={"min": 1885, "max": 2100, "inputmode": "numeric"}),
            "vin": forms.TextInput(
                attrs={"autocapitalize": "characters", "spellcheck": "false", "maxlength": 17}
            ),
            "mileage": forms.NumberInput(attrs={"min": 0, "inputmode": "numeric"}),
            "description": forms.Textarea(attrs={"rows": 5}),
        }
        help_texts = {"vin": "The 17-character vehicle identification number."}

    def clean_vin(self) -> str:
        return vin_normalize(self.cleaned_data["vin"])

    def validate_unique(self) -> None:
        """The service checks the VIN is free (case-insensitively, with its own message)."""


class VehiclePhotoForm(forms.ModelForm):
    required_css_class = "required"

    class Meta:
        model = VehiclePhoto
        fields = ["image", "caption"]
        labels = {"image": "Photo"}
        help_texts = {"image": "JPEG, PNG, WebP or GIF, up to 10 MB."}
        widgets = {"image": forms.ClearableFileInput(attrs={"accept": "image/*"})}


class VehicleSpecForm(forms.ModelForm):
    required_css_class = "required"

    class Meta:
        model = VehicleSpec
        fields = ["name", "value"]
        labels = {"name": "Spec", "value": "Value"}
        widgets = {
            "name": forms.TextInput(attrs={"placeholder": "Engine"}),
            "value": forms.TextInput(attrs={"placeholder": "3.6 L flat-six"}),
        }


class VehicleEventForm(forms.ModelForm):
    required_css_class = "required"

    class Meta:
        model = VehicleEvent
        fields = ["date", "title", "text"]
        labels = {"text": "Details"}
        widgets = {
            "date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "text": forms.Textarea(attrs={"rows": 3}),
        }
