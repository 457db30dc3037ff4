# warehouse-gql: the GraphQL server only. The database and Redis come from the environment:
#   MONGODB_URL  a MongoDB replica set (transactions need one), e.g. mongodb://mongo:27017/?replicaSet=rs0
#   REDIS_URL    Redis for pub/sub, required when running more than one server process
# Production by default (WAREHOUSE_ENV=production: no GraphiQL or introspection unless
# WAREHOUSE_GRAPHIQL=1). Optional: MONGODB_DB, PORT (default 8000), SESSION_TTL_HOURS,
# CORS_ORIGINS, METRICS_TOKEN, LOG_FORMAT (json).
# The embedded SecantusDB default is not installed here: without MONGODB_URL, serve exits with
# one line saying so. See docker-compose.yml for a complete stack.

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
# pyproject.toml names README.md as the long description, so the build needs it.
COPY pyproject.toml README.md ./
COPY warehouse_gql ./warehouse_gql
RUN /opt/venv/bin/pip install .

FROM python:${PYTHON_VERSION}-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000 \
    WAREHOUSE_ENV=production
RUN groupadd --system --gid 10001 warehouse \
    && useradd --system --uid 10001 --gid warehouse --home-dir /srv/warehouse-gql \
       --create-home --shell /usr/sbin/nologin warehouse
COPY --from=build /opt/venv /opt/venv
USER warehouse:warehouse
WORKDIR /srv/warehouse-gql

EXPOSE 8000
# Healthy means ready: /readyz answers 200 only while MongoDB (and Redis, when configured)
# answer, so a proxy or orchestrator stops sending traffic to a server that cannot serve it.
# Slim images have no curl: ask with the standard library. It follows PORT.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/readyz', timeout=4)" || exit 1

# Exec form: the server is PID 1 and gets docker stop's SIGTERM, then shuts down gracefully.
CMD ["warehouse-gql", "serve", "--host", "0.0.0.0"]
