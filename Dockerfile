# One image for the four services and the `handoff` CLI; SERVICE picks the app to run.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY handoff ./handoff
COPY shared ./shared
COPY services ./services
RUN pip install --no-cache-dir .
ENV SERVICE=capture HANDOFF_ENVIRONMENT=production
EXPOSE 8000
CMD ["sh", "-c", "exec uvicorn --factory services.${SERVICE}.app:create_app --host 0.0.0.0 --port 8000"]
