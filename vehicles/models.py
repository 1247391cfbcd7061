from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from vehicles.validators import validate_vin


class Vehicle(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="vehicles"
    )
    make = models.CharField(max_length=60)
    model = models.CharField(max_length=60)
    year = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1885), MaxValueValidator(2100)]
    )
    vin = models.CharField("VIN", max_length=17, unique=True, validators=[validate_vin])
    trim = models.CharField(max_length=60, blank=True)
    mileage = models.PositiveIntegerField(help_text="Miles on the odometer.", default=0)
    colour = models.CharField(max_length=40, blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["make", "model", "year", "pk"]

    def __str__(self) -> str:
        return f"{self.year} {self.make} {self.model}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.vin = self.vin.upper()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def get_absolute_url(self) -> str:
        return reverse("vehicles:detail", args=[self.pk])

    @property
    def placeholder_url(self) -> str:
        return reverse("vehicles:placeholder", args=[self.pk])

    @property
    def cover_url(self) -> str:
        """The first photo, else the generated placeholder. Prefetch `photos` for lists."""
        photos = self.photos.all()
        return photos[0].image.url if photos else self.placeholder_url


class VehiclePhoto(models.Model):
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to="vehicles/%Y/%m/")
    caption = models.CharField(max_length=120, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.caption or f"Photo of {self.vehicle}"


class VehicleSpec(models.Model):
    """One line of the spec sheet: "Engine" -> "3.8 L flat-six"."""

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="specs")
    name = models.CharField(max_length=60)
    value = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["vehicle", "name"], name="vehicle_spec_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"


class VehicleEvent(models.Model):
    """A line of the vehicle's timeline: built, restored, raced, sold..."""

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="events")
    date = models.DateField()
    title = models.CharField(max_length=120)
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["date", "pk"]

    def __str__(self) -> str:
        return f"{self.date}: {self.title}"
