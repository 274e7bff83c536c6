FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATA_DIR=/data NUMBA_CACHE_DIR=/tmp/numba-cache
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput
RUN useradd --system --home /app app && mkdir -p /data && chown -R app /data
USER app
EXPOSE 8000
CMD ["gunicorn", "consortium.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
