# syntax=docker/dockerfile:1
# A small static image: the operator built for musl (rustls, no OpenSSL), on distroless
# static (CA certificates, a non-root user 65532, no shell). ~15 MB.
#   docker build -t ghcr.io/swr-sync-operator/swr-sync-operator:0.1.0 .
FROM rust:1.95-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin swr-sync-operator \
    && cp target/release/swr-sync-operator /swr-sync-operator

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /swr-sync-operator /swr-sync-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/swr-sync-operator"]
CMD ["run"]
