# The rates service: one instance per container, every API version of the service.
# Build from the repository root:  docker build -f deploy/docker/rates.Dockerfile --build-arg BUILD=1.0.0 -t cryptopos/rates:1.0.0 .
FROM python:3.11-slim
ARG BUILD=1.0.0
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CRYPTOPOS_BUILD=${BUILD}
WORKDIR /app
COPY pyproject.toml README.md ./
COPY terminal ./terminal
COPY drivers ./drivers
COPY backend_stub ./backend_stub
RUN pip install --no-cache-dir . && useradd --uid 10001 --no-create-home cryptopos \
    && mkdir -p /var/lib/cryptopos && chown cryptopos /var/lib/cryptopos
USER 10001
EXPOSE 8080
# /healthz is liveness, /readyz readiness (the Kubernetes probes in deploy/k8s use them).
# keys.json and the ledger live in /var/lib/cryptopos (a volume; secrets mounted there).
CMD ["sh", "-c", "exec python -m backend_stub.instance --service rates --build \"$CRYPTOPOS_BUILD\" --host 0.0.0.0 --port 8080 --run-dir /var/lib/cryptopos"]
