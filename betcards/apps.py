from django.apps import AppConfig


class BetcardsConfig(AppConfig):
    name = "betcards"
    default_auto_field = "django.db.models.BigAutoField"
