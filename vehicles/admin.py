from django.contrib import admin
from django.utils.html import format_html

from vehicles.models import Vehicle, VehicleEvent, VehiclePhoto, VehicleSpec


class VehiclePhotoInline(admin.TabularInline):
    model = VehiclePhoto
    extra = 0
    fields = ("preview", "image", "caption", "position")
    readonly_fields = ("preview",)

    @admin.display(description="Preview")
    def preview(self, photo: VehiclePhoto) -> str:
        if not photo.image:
            return "—"
        return format_html('<img src="{}" alt="" style="max-height:60px">', photo.image.url)


class VehicleSpecInline(admin.TabularInline):
    model = VehicleSpec
    extra = 0
    fields = ("name", "value", "position")


class VehicleEventInline(admin.TabularInline):
    model = VehicleEvent
    extra = 0
    fields = ("date", "title", "text")


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = ("__str__", "vin", "trim", "owner", "mileage", "created_at")
    list_filter = ("make", "year", "created_at")
    list_select_related = ("owner",)
    search_fields = ("make", "model", "trim", "vin", "owner__username", "owner__display_name")
    autocomplete_fields = ("owner",)
    readonly_fields = ("created_at", "updated_at")
    date_hierarchy = "created_at"
    inlines = (VehiclePhotoInline, VehicleSpecInline, VehicleEventInline)
    fieldsets = (
        (None, {"fields": ("owner", "make", "model", "year", "trim", "vin")}),
        ("Condition", {"fields": ("mileage", "colour", "description")}),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )
