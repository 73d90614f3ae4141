# syntax=docker/dockerfile:1
# A scratch image holding only the static fcgicli binary, at /fcgicli, for
# copying into a php-fpm image:
#
#   COPY --from=fcgicli:0.1.0 /fcgicli /usr/local/bin/
#
# after building it (for several platforms with buildx: --platform
# linux/amd64,linux/arm64):
#
#   docker build --build-arg VERSION=0.1.0 -t fcgicli:0.1.0 .
#
# The binary needs nothing from the image: no /etc/passwd, no /tmp (-c
# builtin then listens on an abstract socket), no CA files.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=0.0.0-devel
ARG TARGETOS
ARG TARGETARCH
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH scripts/release.sh --binary "$VERSION" /out/fcgicli

FROM scratch
COPY --from=build /out/fcgicli /fcgicli
ENTRYPOINT ["/fcgicli"]
