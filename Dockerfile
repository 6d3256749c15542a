# Two images from one file: `web` (the default: gunicorn, migrate, beat) and
# `worker`, the same with the tracker scanner's extra (Playwright and Debian's
# Chromium), which only the Celery workers that run scans need.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Static files are collected at build time and served by WhiteNoise.
RUN DEBUG=0 SECRET_KEY=build-only python manage.py collectstatic --noinput \
 && useradd --create-home cmp && mkdir -p /data/private && chown cmp /data/private

FROM base AS worker
USER root
# scanner/chromium.py starts /usr/bin/chromium (Debian's), never a downloaded browser.
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium \
 && rm -rf /var/lib/apt/lists/* \
 && pip install --no-cache-dir -r requirements-scanner.txt
USER cmp

FROM base AS web
USER cmp
EXPOSE 8000
CMD ["gunicorn", "cmp.wsgi", "--config", "cmp/gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
