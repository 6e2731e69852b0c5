# syntax=docker/dockerfile:1
# netpol-guard image: build with the dev dependencies, run with the production ones only.
#   docker build -t ghcr.io/netpol-guard/netpol-guard:0.1.0 .
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The application only (tsconfig.json): the benchmarks and the certificate script (tsconfig.tools.json) import
# test/, which is not in the build context.
RUN npx tsc -p tsconfig.json && test -e dist/cli.js

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# glibc malloc keeps less memory after the initial list of a large cluster (see README, Performance): fewer arenas,
# and freed memory above 128 KiB goes back to the system (glibc's own starting thresholds, which it otherwise raises
# for good after the list frees its first large buffers).
ENV MALLOC_ARENA_MAX=2
ENV MALLOC_TRIM_THRESHOLD_=131072
ENV MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The embedded demo cluster view used by `serve` without --state/--kubeconfig (npm start).
COPY --from=build /app/examples/demo-state.yaml ./examples/demo-state.yaml
# Numeric, so that the kubelet can check runAsNonRoot; the same ids as the Deployment's securityContext.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["node","dist/cli.js","serve"]
