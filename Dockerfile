# One image for every shardsync process (producer, consumers, reconciler, the `shardsync` CLI);
# docker-compose.yml picks the entry point per service. Build from the repository root:
#   docker build -t shardsync:local .
FROM node:20-bookworm-slim

WORKDIR /app
ENV TURBO_TELEMETRY_DISABLED=1 \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# The whole tree (minus .dockerignore) before `npm ci`: npm workspaces need every workspace's
# package.json, and listing them one by one here would silently miss the next package.
COPY . .
# COPY keeps the checkout's modes, and a checkout made with umask 077 has files only root can
# read: make the sources readable by the runtime user first. Then exactly the lock file's
# dependencies (dev ones included: the build needs TypeScript and turbo), then every workspace
# compiled to dist/ (RUN's umask 022 leaves both readable).
RUN chmod -R a+rX . && npm ci && npm run build && npm cache clean --force

ENV NODE_ENV=production \
    SHARDSYNC_TOPOLOGY=/app/infra/compose/topology.compose.yaml

# The image's own unprivileged user; the processes only read /app.
USER node

EXPOSE 18080 18090 18100
CMD ["node", "services/producer/dist/main.js"]
