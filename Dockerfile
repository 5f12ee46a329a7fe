# podinit as a tiny image that other images copy the binary from:
#
#   docker build -t podinit .
#   # in your Dockerfile:
#   COPY --from=podinit /usr/bin/podinit /usr/bin/podinit
#   ENTRYPOINT ["/usr/bin/podinit", "-c", "/etc/podinit.toml", "--"]
#
# The binary is static (glibc, crt-static), stripped, LTO, panic = abort.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN ./scripts/build-static && cp target/x86_64-unknown-linux-gnu/release/podinit /podinit

FROM scratch
COPY --from=build /podinit /usr/bin/podinit
ENTRYPOINT ["/usr/bin/podinit"]
