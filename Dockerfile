# syntax=docker/dockerfile:1
# The production image: `docker build -t scrypath-bot .`, then `docker run … scrypath-bot` (serve) or
# `docker run … scrypath-bot migrate` / `status <Schema>` / any CLI command.
# The build steps are scripts/release.sh's, so CI runs the very same steps without Docker.

# Build: the checkout's dev dependencies (the TypeScript compiler) and the release script.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No optional packages (the Meilisearch and Postgres binaries are for tests) and no install
# scripts: compiling needs only TypeScript.
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund
COPY . .
RUN scripts/release.sh /release

# Run: the compiled dist/ and the production dependencies only, owned by root and read-only to
# the `node` user the bot runs as (fits a read-only root filesystem).
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /release /app
RUN ln -s /app/bin/scrypath-bot.js /usr/local/bin/scrypath-bot
USER node
# PORT: Slack's /slack/events; ADMIN_PORT: /healthz, /readyz, /metrics.
EXPOSE 3000 9090
# No tini: `serve` handles SIGTERM and SIGINT itself (a bounded stop, then exit) and starts no child
# processes, so there is nothing to reap. Give one-shot commands run by hand `docker run --init`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.ADMIN_PORT || 9090}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["scrypath-bot"]
CMD ["serve"]
