# secsim in a container: the image the README's Kubernetes Indexed Job runs (`secsim:latest`).
#
#   docker build -t secsim:latest .
#   docker run --rm -v "$PWD/results:/opt/secsim/results" secsim:latest \
#       secsim run experiments/n32-prins-two-ri.ron
#
# Build stage: the release binary (default features; add `--features parquet` to CARGO_FEATURES
# for Parquet output). Runtime stage: the binary plus the shipped experiments and topologies,
# working directory /opt/secsim so that `secsim run experiments/...` works as in a clone.
FROM rust:1.95-bookworm AS build
ARG CARGO_FEATURES=""
WORKDIR /src
COPY . .
RUN cargo build --release --locked ${CARGO_FEATURES:+--features "$CARGO_FEATURES"} \
    && strip target/release/secsim

FROM debian:bookworm-slim
COPY --from=build /src/target/release/secsim /usr/local/bin/secsim
COPY experiments /opt/secsim/experiments
COPY topologies /opt/secsim/topologies
WORKDIR /opt/secsim
# A smoke test of the image itself: the shipped experiments load.
RUN secsim validate experiments/n32-prins-two-ri.ron >/dev/null
CMD ["secsim", "--help"]
