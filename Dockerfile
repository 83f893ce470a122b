# One image for the web app (daphne), the migrations and the BACnet worker; docker-compose.yml
# picks the command. Build: docker compose build (or docker build -t bms .).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=bms.settings \
    BMS_VAR_DIR=/app/var

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them: an
# editable install of a stub package pulls every dependency; the real code is copied over it.
COPY pyproject.toml README.md ./
RUN mkdir bms && touch bms/__init__.py \
    && pip install --no-cache-dir -e . \
    && rm -rf bms

COPY manage.py bacnet_native_worker.py ./
COPY bms ./bms

# Static files are served by whitenoise from var/static. The key only satisfies settings during
# the build: collectstatic signs nothing, and the containers get the real SECRET_KEY at run time.
RUN SECRET_KEY=build-only-not-a-secret python manage.py collectstatic --no-input --verbosity 0 \
    && useradd --create-home --uid 1000 bms \
    && chown -R bms:bms /app/var

USER bms
EXPOSE 8000

# The web app; the worker and the migrations override the command in docker-compose.yml.
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "bms.asgi:application"]
