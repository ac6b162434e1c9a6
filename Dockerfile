FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY idp idp
COPY analytics analytics
COPY alembic alembic
RUN pip install --no-cache-dir -e .
ENV CANARY_HOST=0.0.0.0 CANARY_DATA_DIR=/data
VOLUME /data
EXPOSE 8000
CMD ["canary", "serve"]
