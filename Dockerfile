# syntax=docker/dockerfile:1
#
# newsbot: a small, non-root image. Build:  docker build -t newsbot .
# Run (console delivery when no token is set):
#   docker run -d -e TELEGRAM_BOT_TOKEN=... -v newsbot-data:/data newsbot
# See docs/operations.md for health, metrics, reload, signals and replicas.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build: a self-contained venv
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, from the lock file alone (exact versions, every file checked against its
# hash; `make lock` regenerates it): this layer is rebuilt only when the lock changes. It also
# pins setuptools and wheel, which build the project below without fetching anything unpinned.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
# The project, from a fresh copy of its sources: nothing was built in /src before, so no stale
# build output can end up in the wheel. Then the venv sheds its installers: the runtime image
# needs neither pip nor setuptools.
COPY pyproject.toml README.md ./
COPY bot/ bot/
RUN pip install --no-deps --no-build-isolation . \
    && pip uninstall -y setuptools wheel pip

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE}
# tini as PID 1: the kernel does not deliver SIGTERM to a PID 1 that has no handler for it, so a
# `docker stop` during start-up (before newsbot installs its handlers, e.g. while migrating the
# database) would be ignored until the SIGKILL. tini forwards signals and reaps zombies.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 newsbot \
    && useradd --system --uid 10001 --gid newsbot --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin newsbot \
    && mkdir -p /data /app/watchlists \
    && chown newsbot:newsbot /data /app /app/watchlists \
    && for site in $(python -c 'import site; print(" ".join(site.getsitepackages()))') \
                   /usr/lib/python3/dist-packages; do \
         rm -rf "$site"/pip "$site"/pip-* "$site"/setuptools "$site"/setuptools-* \
                "$site"/wheel "$site"/wheel-* "$site"/pkg_resources "$site"/_distutils_hack \
                "$site"/distutils-precedence.pth; \
       done \
    && rm -rf /usr/local/bin/pip* /usr/bin/pip* /usr/local/bin/wheel /usr/share/python-wheels \
              /usr/local/lib/python3*/ensurepip/_bundled
COPY --from=build /opt/venv /opt/venv
COPY --chown=newsbot:newsbot watchlists/ /app/watchlists/
WORKDIR /app

# NEWSBOT_HTTP must listen on all interfaces inside the container, or neither the HEALTHCHECK
# below nor a Prometheus scraper on another container could reach it.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_URL=sqlite:////data/newsbot.db \
    NEWSBOT_WATCHLISTS=/app/watchlists \
    NEWSBOT_HTTP=0.0.0.0:8080
# The image's promise, checked at build time: neither the venv nor the base interpreter can
# import an installer.
RUN for py in python /usr/local/bin/python; do \
      for module in pip setuptools wheel; do \
        if "$py" -c "import $module" 2>/dev/null; then echo "$py still imports $module" >&2; exit 1; fi; \
      done; \
    done

# /data: the SQLite store (unused with PostgreSQL). /app/watchlists: mount your own lists; a
# named volume starts with the lists shipped in the image. Mount folders, not single files:
# editors replace files on save, and a single-file bind mount keeps showing the old one.
VOLUME ["/data", "/app/watchlists"]
# 8080: /healthz and /metrics. 8443: the Telegram webhook listener (NEWSBOT_WEBHOOK_URL set).
EXPOSE 8080 8443

USER 10001:10001

STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(0 if u.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["/usr/bin/tini", "--", "newsbot"]
CMD ["run"]
