"""WSGI entry point: Django's application, which jackpot.rsgi serves under granian."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jackpot.settings")

application = get_wsgi_application()
