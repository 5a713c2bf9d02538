# syntax=docker/dockerfile:1
# The engine's one image: docker-compose.yml runs the web server (granian), the Celery worker
# and Celery beat from it. Dependencies come from uv.lock (the same versions CI tests).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH

RUN pip install --no-cache-dir 'uv>=0.9,<1' \
    && useradd --system --create-home --uid 10001 jackpot

WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .

# Static files are collected into the image (whitenoise serves them). settings.py refuses
# DEBUG=false without secrets, so this step gets throw-away ones: nothing is signed or
# encrypted here, and the real ones come from the environment at run time.
RUN DEBUG=false \
    SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    OPERATOR_SECRET_ENCRYPTION_KEY="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var \
    && chown jackpot:jackpot /app/var

USER jackpot
EXPOSE 8000
CMD ["python", "-m", "jackpot.serve"]
