"""Forms of the user management pages (shape only; the rules are bms.accounts.users')."""

from __future__ import annotations

from django import forms

from bms.accounts.roles import ROLES

ROLE_CHOICES = [(role, role) for role in ROLES]


class NewUserForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial="viewer")
    password = forms.CharField(widget=forms.PasswordInput, strip=False)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class ActiveForm(forms.Form):
    active = forms.BooleanField(required=False)


class PasswordForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, strip=False, label="New password")
