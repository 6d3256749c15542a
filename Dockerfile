FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Static files are collected at build time and served by WhiteNoise.
RUN DEBUG=0 SECRET_KEY=build-only python manage.py collectstatic --noinput \
 && useradd --create-home cmp && mkdir -p /data/private && chown cmp /data/private
USER cmp
EXPOSE 8000
CMD ["gunicorn", "cmp.wsgi", "--config", "cmp/gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
