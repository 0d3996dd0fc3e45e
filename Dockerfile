# syntax=docker/dockerfile:1
# Rollcall image: the runtime dependencies from uv.lock only (no dev group), run as a non-root user.
# Build: docker build -t rollcall .   Run: see compose.yaml and README "Deployment".

FROM python:3.11-slim-bookworm AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/rollcall
WORKDIR /src
# Dependencies first (a layer that changes only with the lock file), then the project itself.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY README.md ./
COPY alembic ./alembic
COPY geo ./geo
COPY rules ./rules
COPY intake ./intake
COPY store ./store
COPY jobs ./jobs
COPY api ./api
COPY rollcall ./rollcall
COPY fixtures ./fixtures
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 rollcall \
    && useradd --system --uid 10001 --gid rollcall --home-dir /var/lib/rollcall --create-home rollcall
COPY --from=build /opt/rollcall /opt/rollcall
ENV PATH=/opt/rollcall/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    ROLLCALL_HOST=0.0.0.0 ROLLCALL_PORT=8000
USER rollcall:rollcall
WORKDIR /var/lib/rollcall
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
ENTRYPOINT ["rollcall"]
CMD ["serve"]
