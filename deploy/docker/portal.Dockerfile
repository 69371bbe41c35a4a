# syntax=docker/dockerfile:1
# The portal image (pages only: no database, no NATS): built from the repository root (`docker build -f deploy/docker/portal.Dockerfile .`).
# Stage 1 installs the pinned packages into a virtualenv; stage 2 copies only that venv into a slim runtime that
# runs as an unprivileged user with a read-only root filesystem (Kubernetes sets readOnlyRootFilesystem).
FROM python:3.11.13-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY constraints.txt constraints.txt
COPY libs/common libs/common
COPY services/portal services/portal
RUN python -m venv /opt/demimas \
 && /opt/demimas/bin/pip install --constraint constraints.txt ./libs/common ./services/portal

FROM python:3.11.13-slim-bookworm
RUN groupadd --gid 10001 demimas && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin demimas
COPY --from=build /opt/demimas /opt/demimas
ENV PATH=/opt/demimas/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DEMIMAS_ENVIRONMENT=production
USER 10001:10001
EXPOSE 4007
ENTRYPOINT ["uvicorn", "--factory", "demimas_portal.app:create_app", "--host", "0.0.0.0", "--port", "4007", "--no-access-log", "--proxy-headers"]
