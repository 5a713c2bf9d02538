from django.apps import AppConfig


class BetcardsConfig(AppConfig):
    name = "betcards"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from betcards.offers import invalidation_connect

        invalidation_connect()
