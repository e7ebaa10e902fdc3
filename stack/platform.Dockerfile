# One image for the platform's Python services (backend, signal-generator, vendor, alert-sink);
# each service picks its command in docker-compose.test.yml. Context: stack/.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv ca-certificates procps \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
COPY platform-requirements.txt platform-constraints.txt backend/requirements.txt /tmp/req/
# Pinned (platform-constraints.txt, updated on purpose by scripts/lock.sh, which builds with it empty).
ARG PIP_CONSTRAINTS=/tmp/req/platform-constraints.txt
# pip needs the build host's CA bundle where a TLS proxy fronts the package index (passed as an
# optional build secret; absent elsewhere).
RUN --mount=type=secret,id=ca_bundle,required=false \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi; \
    pip install --no-cache-dir -q ${PIP_CONSTRAINTS:+-c $PIP_CONSTRAINTS} \
      -r /tmp/req/platform-requirements.txt -r /tmp/req/requirements.txt
WORKDIR /app
COPY backend /app/backend
# The runbook's `docker exec backend denylist-add "$ABUSIVE_IP"` (validates the address; no shell involved).
RUN ln -s /app/backend/bin/denylist-add /usr/local/bin/denylist-add
COPY signal_generator /app/signal_generator
COPY vendor /app/vendor
COPY alert_sink /app/alert_sink
