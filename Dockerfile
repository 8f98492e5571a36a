# mockidp stand-in image. Development use only: it serves committed development keys and CA (keys/).
FROM python:3.11-slim
WORKDIR /opt/mockidp
COPY pyproject.toml README.md ./
COPY mockidp ./mockidp
COPY keys ./keys
COPY fixtures ./fixtures
RUN pip install --no-cache-dir -e .
ENV MOCKIDP_HOST=0.0.0.0 \
    MOCKIDP_PORT=8443 \
    MOCKIDP_STATE_DIR=/var/lib/mockidp \
    MOCKIDP_LOG_LEVEL=info
EXPOSE 8443
CMD ["mockidp", "serve"]
