# The CGH CDS Hooks service: gunicorn (gthread, preloaded) behind whatever load balancer runs it.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY cards ./cards
COPY fhir_fixtures ./fhir_fixtures
COPY openapi.yaml ./
# Editable: the service reads cards/, fhir_fixtures/ and openapi.yaml beside its package (/app).
RUN pip install --no-cache-dir -e '.[server,postgres]' && useradd --system --home /app cds && mkdir -p /app/instance \
    && chown cds /app/instance
USER cds
ENV CGH_AUTH=required
ENV PROMETHEUS_MULTIPROC_DIR=/tmp/cgh-cds-metrics
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"
CMD ["cgh-cds", "serve", "--host", "0.0.0.0", "--port", "8080"]
