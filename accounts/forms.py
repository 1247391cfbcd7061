from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation

from accounts.models import User
from config.errors import DomainError


class SignUpForm(forms.Form):
    required_css_class = "required"

    username = forms.CharField(
        max_length=150,
        help_text="Letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    display_name = forms.CharField(
        max_length=40,
        required=False,
        help_text="Shown on leaderboards instead of your username.",
        widget=forms.TextInput(attrs={"autocomplete": "nickname"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        help_text=password_validation.password_validators_help_text_html(),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class DisplayNameForm(forms.ModelForm):
    required_css_class = "required"

    class Meta:
        model = User
        fields = ["display_name"]
        widgets = {"display_name": forms.TextInput(attrs={"autocomplete": "nickname"})}


def form_add_domain_error(
    form: forms.BaseForm, error: DomainError, *, field_map: dict[str, str] | None = None
) -> None:
    """Show a service's DomainError next to the form field it names (else above the form)."""
    field_map = field_map or {}
    fields = getattr(error, "fields", None) or {error.field: [error.detail]}
    for name, messages in fields.items():
        target = field_map.get(name or "", name)
        for message in messages:
            form.add_error(target if target in form.fields else None, message)
