# An app image on the base: one drop-in file, nothing copied from the base.
#   docker build -f app.Dockerfile -t my-app .
ARG BASE=my-base
FROM ${BASE}
COPY podinit.d/50-app.toml /etc/podinit.d/50-app.toml
