# syntax=docker/dockerfile:1
#
# The etcd-k8s-operator image (ghcr.io/etcd-k8s-operator/etcd-operator): the
# programs in /usr/local/bin —
#   etcd-controller  the controller, and the member init step that runs in
#                    every etcd Pod before etcd
#   etcd-member-guard  the check before every etcd start, static: the init
#                    step copies it into the Pod, etcd's (distroless)
#                    container starts etcd through it
#   etcd-webhook     the admission webhook
#   kubectl-etcd     the kubectl plugin (handy in a debug Pod)
#   etcd-certs       the certificate tool (for a Job that makes the webhook's pair)
#
# Two stages. The builder is Debian bookworm with the -dev packages and runs
# the project's own Makefile with warnings as errors, exactly as CI does. The
# runtime is bookworm-slim with only the shared libraries those binaries
# link (libcurl, json-c, libmicrohttpd with GnuTLS, OpenSSL, libyaml) and CA
# certificates; no compiler, no headers. It runs as an unprivileged numeric
# user, so Kubernetes can check runAsNonRoot without an /etc/passwd entry,
# and writes nothing to its own filesystem (the manifests mount it
# read-only).
#
#   docker build --build-arg VERSION=$(make -s version) \
#     -t ghcr.io/etcd-k8s-operator/etcd-operator:$(make -s version) .
#
# The released image is not this file's: `make image` (scripts/image.py)
# assembles it without a daemon from the binaries `make` built, reproducibly,
# with only those binaries, their shared libraries and the loader, CA
# certificates and /etc/passwd (no shell; SBOM beside it). This file is kept
# for those who build with Docker; it agrees with that image on the paths
# (/usr/local/bin), the user (65532:65532) and the entrypoint
# (etcd-controller), but its runtime is bookworm-slim, so it has a shell.
#
# Package names: scripts/install-deps.sh is the one place for the build and
# test machines; the image repeats the few it needs because it must build
# from this file alone, and its runtime stage needs the runtime libraries,
# which that script (for building and testing) never installs.
ARG DEBIAN_RELEASE=bookworm
# the version compiled in (no .git in the build context: otherwise 0.0.0-unknown)
ARG VERSION=0.0.0-unknown

FROM debian:${DEBIAN_RELEASE} AS build
ARG VERSION
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config \
      libcurl4-openssl-dev libjson-c-dev libmicrohttpd-dev libssl-dev libyaml-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY shared/ shared/
COPY certs/ certs/
COPY controller/ controller/
COPY plugin/ plugin/
COPY webhook/ webhook/
# kubectl-etcd compiles manifests/ in (install generate)
COPY manifests/ manifests/
COPY scripts/embed-manifests.sh scripts/version.sh scripts/
RUN make -j"$(nproc)" WERROR=1 BUILD=/out VERSION="${VERSION}" all \
 && strip /out/etcd-controller /out/etcd-webhook /out/kubectl-etcd /out/etcd-certs \
          /out/etcd-member-guard

FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libjson-c5 libmicrohttpd12 libssl3 libyaml-0-2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/etcd-controller /out/etcd-webhook /out/kubectl-etcd /out/etcd-certs \
     /out/etcd-member-guard /usr/local/bin/
LABEL org.opencontainers.image.title="etcd-k8s-operator" \
      org.opencontainers.image.description="Safe, one-member-at-a-time scaling of etcd clusters on Kubernetes" \
      org.opencontainers.image.source="https://github.com/etcd-k8s-operator/etcd-k8s-operator"
USER 65532:65532
# The manifests name the program with `command:`; as in `make image`, the
# entrypoint is the controller, and this default shows its flags.
ENTRYPOINT ["/usr/local/bin/etcd-controller"]
CMD ["--help"]
