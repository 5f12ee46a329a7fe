# A base image: podinit, its ENTRYPOINT, and the processes every image
# built on it runs. Build from this directory with the static binary
# next to it (scripts/build-static, then cp target/.../podinit .):
#   docker build -f base.Dockerfile -t my-base .
ARG BASE=debian:bookworm-slim
FROM ${BASE}
COPY podinit /usr/bin/podinit
COPY podinit.toml /etc/podinit.toml
ENTRYPOINT ["/usr/bin/podinit"]
