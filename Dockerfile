# The CGH CDS Hooks service: gunicorn (gthread, preloaded) behind whatever load balancer runs it.
# Stage 1 builds the wheel (the product: code, card content, value sets, openapi.yaml, fixtures) and installs
# it with the locked, hash-checked dependencies into /opt/venv; stage 2 is that venv on a clean base, run as
# a non-root user. Nothing reads the source tree at run time.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements/runtime.lock requirements/runtime.lock
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r requirements/runtime.lock
COPY pyproject.toml setup.py MANIFEST.in README.md openapi.yaml ./
COPY service ./service
COPY cards ./cards
COPY fhir_fixtures ./fhir_fixtures
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist . \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps /dist/cgh_cds-*.whl

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH \
    CGH_AUTH=required CGH_INSTANCE_PATH=/var/lib/cgh-cds \
    PROMETHEUS_MULTIPROC_DIR=/tmp/cgh-cds-metrics
COPY --from=build /opt/venv /opt/venv
RUN useradd --system --uid 10001 --home-dir /var/lib/cgh-cds --no-create-home cds \
    && mkdir -p /var/lib/cgh-cds && chown cds /var/lib/cgh-cds
USER 10001
WORKDIR /var/lib/cgh-cds
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
CMD ["cgh-cds", "serve", "--host", "0.0.0.0", "--port", "8080"]
