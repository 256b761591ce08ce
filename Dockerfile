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
# FORWARDED_ALLOW_IPS: the proxies whose X-Forwarded-For uvicorn trusts, so that capture's
# per-client rate limits see the visitor, not the ingress (set it to the ingress's addresses).
ENV SERVICE=capture HANDOFF_ENVIRONMENT=production FORWARDED_ALLOW_IPS=127.0.0.1
EXPOSE 8000
CMD ["sh", "-c", "exec uvicorn --factory services.${SERVICE}.app:create_app --host 0.0.0.0 --port 8000 --proxy-headers"]
