from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "enrollment.accounts"
    label = "accounts"
    verbose_name = "Accounts"
