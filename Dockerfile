# podinit as a tiny image that other images copy the binary from:
#
#   docker build -t podinit .
#   # in your Dockerfile:
#   COPY --from=podinit /usr/bin/podinit /usr/bin/podinit
#   ENTRYPOINT ["/usr/bin/podinit"]
#
# The binary is static (glibc crt-static), stripped, LTO, panic = abort,
# built by scripts/build-static with machine paths remapped (see README,
# "Releases"): scripts/check-dockerfile builds this file and checks the
# image's binary is the same bytes. tests/docker.rs builds the final stage
# from a host-built binary and runs it on a real engine.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN ./scripts/build-static && cp target/x86_64-unknown-linux-gnu/release/podinit /podinit

FROM scratch
COPY --from=build /podinit /usr/bin/podinit
ENTRYPOINT ["/usr/bin/podinit"]
