# syntax=docker/dockerfile:1.7
#
# One image per Vigil app, from the same Dockerfile:
#
#   docker build --build-arg APP=ingest -t vigil/ingest .          # ingest | spectrogram |
#                                                                  # inference | fusion | vigil
#   docker build --target runtime-cuda --build-arg APP=inference \
#     --build-arg ONNXRUNTIME_NODE_INSTALL=cuda12 -t vigil/inference-cuda .
#
# Every image also carries the CLI (dist/apps/vigil, `vigil` on PATH), which the inference pod's
# initContainer uses to pull the models (`vigil models pull --mirror ...`).
# ffmpeg comes from the distribution (FFMPEG_PATH=/usr/bin/ffmpeg); the optional ffmpeg-static
# npm package is left out of the runtime images.

ARG NODE_IMAGE=node:20-bookworm-slim
# CUDA 12 with cuDNN 9: what onnxruntime-node's CUDA execution provider (cuda12) links against.
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# ---- build: every dependency, then the app (and the CLI) bundled into dist/apps/<app> ---------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
# The build needs no CUDA libraries, whatever the runtime gets. (npm 11 skips onnxruntime-node's
# install script by package.json's allowScripts; the variable makes npm 10, this image's, skip it.)
RUN --mount=type=cache,target=/root/.npm \
    ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
COPY . .
ARG APP
RUN test -n "$APP" || { echo 'set --build-arg APP=<ingest|spectrogram|inference|fusion|vigil>' >&2; exit 1; }
RUN npx nest build "$APP" \
    && if [ "$APP" != vigil ]; then npx nest build vigil; fi \
    && if [ "$APP" = vigil ] || [ "$APP" = fusion ]; then node scripts/build-console.js; fi \
    && test -f "dist/apps/$APP/main.js" && test -f dist/apps/vigil/main.js

# ---- production node_modules; ONNXRUNTIME_NODE_INSTALL=cuda12 adds the CUDA provider -----------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
ARG ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
# onnxruntime-node's install script (the CUDA download) is denied in package.json's allowScripts
# (npm 11) and skipped by the variable (npm 10); a CUDA image runs it on its own, once.
RUN --mount=type=cache,target=/root/.npm \
    ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --omit=optional --no-audit --no-fund \
    && if [ "$ONNXRUNTIME_NODE_INSTALL" != skip ]; then \
      ONNXRUNTIME_NODE_INSTALL="$ONNXRUNTIME_NODE_INSTALL" node node_modules/onnxruntime-node/script/install; \
    fi
# onnxruntime-node ships its native libraries for every OS and CPU (~290 MB): keep this one's.
RUN arch="$(node -p process.arch)" \
    && find node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 ! -name linux -exec rm -rf {} + \
    && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 ! -name "$arch" -exec rm -rf {} + \
    && test -f "node_modules/onnxruntime-node/bin/napi-v6/linux/$arch/onnxruntime_binding.node"

# ---- the application tree, shared by both runtimes ---------------------------------------------
FROM ${NODE_IMAGE} AS app
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
# The .proto contracts are read at run time (libs/contracts finds /app/protos).
COPY protos ./protos

# ---- runtime for NVIDIA GPUs: CUDA + cuDNN from NVIDIA's image, Node from the official one -----
FROM ${CUDA_IMAGE} AS runtime-cuda
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg tini ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 vigil \
    && useradd --system --uid 10001 --gid vigil --home-dir /nonexistent --shell /usr/sbin/nologin vigil
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=app /app /app
RUN ln -s /app/bin/vigil.js /usr/local/bin/vigil
WORKDIR /app
ARG APP
ENV APP=${APP} \
    NODE_ENV=production \
    FFMPEG_PATH=/usr/bin/ffmpeg \
    VIGIL_MODELS_DIR=/models \
    VIGIL_EXECUTION_PROVIDER=cuda
USER 10001:10001
EXPOSE 8080 50051
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["node", "-e", "require('http').get('http://127.0.0.1:' + (process.env.VIGIL_HEALTH_PORT || 8080) + '/health/live', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
# tini forwards SIGTERM to node (graceful shutdown) and reaps ffmpeg children.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["/bin/sh", "-c", "exec node \"dist/apps/$APP/main.js\""]

# ---- runtime (default target): Debian's ffmpeg, production node_modules, non-root --------------
FROM ${NODE_IMAGE} AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg tini ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 vigil \
    && useradd --system --uid 10001 --gid vigil --home-dir /nonexistent --shell /usr/sbin/nologin vigil
COPY --from=app /app /app
RUN ln -s /app/bin/vigil.js /usr/local/bin/vigil
WORKDIR /app
ARG APP
ENV APP=${APP} \
    NODE_ENV=production \
    FFMPEG_PATH=/usr/bin/ffmpeg \
    VIGIL_MODELS_DIR=/models
USER 10001:10001
EXPOSE 8080 50051
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["node", "-e", "require('http').get('http://127.0.0.1:' + (process.env.VIGIL_HEALTH_PORT || 8080) + '/health/live', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
# tini forwards SIGTERM to node (graceful shutdown) and reaps ffmpeg children.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["/bin/sh", "-c", "exec node \"dist/apps/$APP/main.js\""]
