# One image for the four services and the `handoff` CLI; SERVICE picks the app to run.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY handoff ./handoff
COPY shared ./shared
COPY services ./services
RUN pip install --no-cache-dir .
# FORWARDED_ALLOW_IPS: the proxies whose X-Forwarded-For uvicorn trusts, so that capture's
# per-client rate limits see the visitor, not the ingress (set it to the ingress's addresses).
ENV SERVICE=capture HANDOFF_ENVIRONMENT=production FORWARDED_ALLOW_IPS=127.0.0.1
EXPOSE 8000
CMD ["sh", "-c", "exec uvicorn --factory services.${SERVICE}.app:create_app --host 0.0.0.0 --port 8000 --proxy-headers"]
