# syntax=docker/dockerfile:1
# One image for the server and the workers; the command picks which one runs:
#   docker run IMAGE                         -> node dist/server.js
#   docker run IMAGE node dist/worker.js     -> a worker
#   docker run -i IMAGE node dist/cli.js hash-password
# Any Node.js LTS from 20.19 on works; set NODE_VERSION to change it.
ARG NODE_VERSION=24

# Build: all dependencies, TypeScript compiled to dist/.
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only: no TypeScript, test or lint tooling in the final image.
FROM node:${NODE_VERSION}-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:${NODE_VERSION}-slim
# tini runs as PID 1: it passes signals on to node and reaps zombies. A worker's service process leads a
# process group of its own, and whatever it started that outlives it is re-parented to PID 1; node as
# PID 1 would never reap it.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The image's unprivileged "node" user, by number so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8000
# Liveness of the server; PORT must match the config's port when it is not 8000. Workers are probed on
# their health_port instead (compose.yaml and deploy/k8s/ override this for them).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node under tini (not npm), so SIGTERM reaches the app's graceful shutdown; `docker run IMAGE node
# dist/worker.js` replaces the command and keeps tini. The server's young generation is capped at 2 x 8 MB
# (V8's default lets it take 2 x 16 MB under load), for no measurable CPU (docs/performance.md#memory).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--max-semi-space-size=8", "dist/server.js"]
