# One image for all four Portico services, the operator console and the topic initialiser; compose picks the module to run.

# Build stage: resolve the pinned dependencies and the project into a virtualenv that the runtime
# stage copies whole, so pip's build backend and sources never reach the final image.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
# Dependencies first: this layer is reused until requirements.lock changes.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml ./
COPY clients/events/ clients/events/
# The portico CLI (cli/, on the Python client); the server adds its api-keys and operators commands.
COPY clients/python/ clients/python/
COPY cli/ cli/
COPY shared/ shared/
COPY services/ services/
# The portal's IdP guides: services/portal-session/portal_session/guides links here.
COPY docs/guides/ docs/guides/
RUN pip install --no-cache-dir --no-deps ./clients/events ./clients/python ./cli .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/portico --shell /usr/sbin/nologin portico
# Root owns the code; the service user can read it but not change it.
COPY --from=build /opt/venv /opt/venv
# An empty working directory: `python -m` puts it on sys.path, so nothing there may shadow the installed packages.
WORKDIR /home/portico
USER 10001:10001
EXPOSE 8101 8102 8103 8104 8105
CMD ["python", "-m", "link_issuer"]
