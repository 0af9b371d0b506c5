# ELB: nginx + the compiled Lua, configured from etcd.
#   docker build -t elb .
#   docker run -p 80:80 -p 443:443 -e ETCD=10.0.0.5:2379 -e ELBNAME=ELB -e STATSD=10.0.0.6:8125 elb
# Without ETCD the container runs its own etcd (data in /var/lib/elb/etcd; mount a volume
# there to keep it). `npm run image-test` builds and runs this file with podman (README, Docker).

# ---- build: TypeScript -> Lua -------------------------------------------------------------
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.node.json tstl.json ./
COPY scripts/build.mjs scripts/
COPY src-lua/ src-lua/
RUN npm run build

# ---- runtime: Debian bookworm, installed by the same script the tests use ------------------
FROM debian:bookworm-slim
COPY scripts/install-deps.sh /app/scripts/install-deps.sh
RUN bash /app/scripts/install-deps.sh runtime \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/lua/ /app/build/lua/
COPY nginx/ /app/nginx/
# the dashboard's static files (/__erulb__/ui), two levels above the Lua like in the repository
COPY ui/ /app/ui/
WORKDIR /app
# launch.sh reads these; ETCD, ELBNAME, STATSD, ELB_ADMIN_ALLOW, ELB_ADMIN_TOKEN, ELB_WORKERS
# come from `docker run -e`. The admin API answers loopback only unless ELB_ADMIN_ALLOW says more.
ENV ELB_LISTEN=80 \
    ELB_TLS_LISTEN=443 \
    ELB_PREFIX=/var/lib/elb \
    ELB_LOG_STDOUT=1 \
    ELB_STOP_TIMEOUT=8
EXPOSE 80 443
# TERM: graceful (nginx QUIT, then a fast stop after ELB_STOP_TIMEOUT, inside docker stop's 10 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["bash", "/app/nginx/launch.sh"]
