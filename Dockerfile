# clets-watch: the worker and the producer (docker-compose builds both from this image).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --system --create-home --home-dir /home/clets clets

COPY pyproject.toml README.md requirements-runtime.lock ./
RUN pip install --require-hashes -r requirements-runtime.lock
COPY clets_watch ./clets_watch
COPY schemas ./schemas
COPY processors ./processors
COPY producers ./producers
COPY sinks ./sinks
RUN pip install --no-deps . && mkdir -p /data && chown clets /data

USER clets
ENV CLETS_WATCH_HOME=/data
EXPOSE 9464
ENTRYPOINT ["clets-watch"]
CMD ["worker"]
