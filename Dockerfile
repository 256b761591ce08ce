# One image for the four services and the `handoff` CLI; SERVICE picks the app to run.
# Production parts only: the embedded PostgreSQL and broker (the `embedded` extra) stay out.
FROM python:3.11-slim
WORKDIR /app
COPY requirements/production.lock ./requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/production.lock
COPY pyproject.toml README.md ./
COPY handoff ./handoff
COPY shared ./shared
COPY services ./services
RUN pip install --no-cache-dir --no-deps . \
    && useradd --system --uid 10001 --no-create-home handoff
USER handoff
# The same limits as `handoff up` (handoff/stack.py uvicorn_limits): X-Forwarded-For is trusted
# only from the addresses FORWARDED_ALLOW_IPS names (the ingress's; deploy/k8s/config.yaml) and
# not at all when it is unset; idle keep-alive connections close after 5 s; past
# HANDOFF_LIMIT_CONCURRENCY (500) connections and requests uvicorn answers 503. Header and body
# read timeouts belong to the ingress (deploy/README.md).
ENV SERVICE=capture HANDOFF_ENVIRONMENT=production
EXPOSE 8000
CMD ["sh", "-c", "if [ -n \"${FORWARDED_ALLOW_IPS}\" ]; then forwarding=\"--forwarded-allow-ips=${FORWARDED_ALLOW_IPS}\"; else forwarding=--no-proxy-headers; fi; exec uvicorn --factory \"services.${SERVICE}.app:create_app\" --host 0.0.0.0 --port 8000 --no-access-log \"$forwarding\" --timeout-keep-alive 5 --limit-concurrency \"${HANDOFF_LIMIT_CONCURRENCY:-500}\""]
