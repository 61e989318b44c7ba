# One image for every service; the command names the service to run:
#   docker build -t gonghui:0.1.0 .
#   docker run --env-file .env gonghui:0.1.0 registry
# Configuration is environment variables only (see shared/config.py and the README).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GONGHUI_VAR_DIR=/app/var

RUN groupadd --system --gid 10001 gonghui \
    && useradd --system --uid 10001 --gid gonghui --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin gonghui

# Installed as a package (migrations travel inside it), then the sources are dropped so
# the running code is exactly what pip installed.
WORKDIR /src
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
RUN pip install . && cd / && rm -rf /src

COPY deploy/healthcheck.py /usr/local/bin/gonghui-healthcheck

WORKDIR /app
RUN mkdir -p /app/var && chown gonghui:gonghui /app/var
USER 10001:10001

EXPOSE 8000 8001 8002 8003 8004 8005 8006

# Liveness only: readiness (database and broker) is for the orchestrator to act on.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/usr/local/bin/gonghui-healthcheck", "/healthz"]

# Exec form: python is PID 1 and gets SIGTERM itself, so nameko stops its workers
# gracefully (docker stop, Kubernetes terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "services.serve"]
