# mockidp stand-in image. Development use only: it signs with the development keys shipped in the package
# (mockidp/data/keys); the local CA is generated on first start in the state dir (/var/lib/mockidp/ca), never baked in.

# Stage 1: build the wheel from the source, as `pip wheel` does anywhere.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mockidp ./mockidp
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# Stage 2: the wheel installed (not editable), its dependencies pinned by the committed constraints.txt.
FROM python:3.11-slim
COPY constraints.txt /tmp/constraints.txt
COPY --from=build /wheels /tmp/wheels
# redis and hiredis: `--store redis://...` (the compose profile `scaled`), as the `redis` extra names them.
RUN pip install --no-cache-dir --constraint /tmp/constraints.txt /tmp/wheels/*.whl redis hiredis \
    && rm -r /tmp/constraints.txt /tmp/wheels
# A non-root user owning the state dir and its CA folder: a named volume mounted on either starts as a copy of it,
# owner included.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/mockidp --no-create-home mockidp \
    && install -d -o mockidp -g mockidp -m 0755 /var/lib/mockidp /var/lib/mockidp/ca
USER mockidp
WORKDIR /var/lib/mockidp
ENV MOCKIDP_HOST=0.0.0.0 \
    MOCKIDP_PORT=8443 \
    MOCKIDP_STATE_DIR=/var/lib/mockidp \
    MOCKIDP_LOG_LEVEL=info
EXPOSE 8443
# /healthz over HTTPS, trusting the CA the server generated in its state dir.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=10 \
    CMD ["python", "-c", "import os, ssl, urllib.request; urllib.request.urlopen('https://localhost:%s/healthz' % os.environ.get('MOCKIDP_PORT', '8443'), context=ssl.create_default_context(cafile=os.environ.get('MOCKIDP_STATE_DIR', '/var/lib/mockidp') + '/ca/ca.pem'), timeout=2)"]
CMD ["mockidp", "serve"]
