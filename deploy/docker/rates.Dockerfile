# The rates service: one instance per container (uvicorn workers inside it with --workers; their
# metrics summed through prometheus_client's multiprocess mode), every API version of the service.
# Build from the repository root:
#   docker build -f deploy/docker/rates.Dockerfile --build-arg BUILD=1.0.0 -t cryptopos/rates:1.0.0 .
FROM python:3.11-slim
ARG BUILD=1.0.0
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CRYPTOPOS_BUILD=${BUILD}
WORKDIR /app
COPY pyproject.toml README.md ./
COPY terminal ./terminal
COPY backend_stub ./backend_stub
COPY deploy/docker/extra_requirements.py /tmp/extra_requirements.py
# The project without its own dependencies (they include the terminal's UI: textual, qrcode, ...),
# then exactly the [backend] extra of pyproject.toml: what a service instance needs.
RUN pip install --no-deps . \
    && python /tmp/extra_requirements.py cryptopos backend > /tmp/backend.txt \
    && pip install -r /tmp/backend.txt \
    && rm -rf /tmp/backend.txt /tmp/extra_requirements.py /app/terminal /app/backend_stub \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent cryptopos \
    && mkdir -p /var/run/cryptopos && chown 10001:10001 /var/run/cryptopos
USER 10001:10001
EXPOSE 8080
# /healthz is liveness, /readyz readiness (the probes in deploy/k8s). The ledger's DSN comes from
# CRYPTOPOS_STORE_URL and the master key from CRYPTOPOS_MASTER_KEY (Kubernetes Secrets); the run
# directory holds only per-pod scratch (the workers' metric files), so the root filesystem can be
# read-only. deploy/k8s gives the same command with its own arguments.
CMD ["sh", "-c", "exec python -m backend_stub.instance --service=rates --build=\"$CRYPTOPOS_BUILD\" --host=0.0.0.0 --port=8080 --workers=2 --run-dir=/var/run/cryptopos --discovery-services=rates,payments"]
