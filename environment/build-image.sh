#!/usr/bin/env bash
# `make image`: build environment/Dockerfile with podman under the name in environment/image.
# The base is the Dockerfile's public Python image; when no registry can be reached it is a
# Debian bookworm root file system made with mmdebstrap from Debian's packages and imported as
# localhost/debian-python:bookworm. Prints the image ID, its size and the build time.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${IMAGE:-$(tr -d '[:space:]' < environment/image)}"
BASE="${BASE:-docker.io/library/python:3.11.7-slim-bookworm}"
LOCAL_BASE=localhost/debian-python:bookworm
if ! command -v podman >/dev/null; then
  echo "make image: podman not found (apt-get install -y podman buildah mmdebstrap)" >&2
  exit 3
fi
if ! podman image exists "$BASE" && ! timeout 60 podman pull -q "$BASE" >/dev/null 2>&1; then
  if ! podman image exists "$LOCAL_BASE"; then
    command -v mmdebstrap >/dev/null || {
      echo "make image: $BASE unreachable and mmdebstrap not found (apt-get install -y mmdebstrap)" >&2
      exit 3
    }
    echo "make image: $BASE unreachable; building $LOCAL_BASE with mmdebstrap" >&2
    mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
      bookworm - | podman import --quiet - "$LOCAL_BASE" >/dev/null
  fi
  echo "make image: base $LOCAL_BASE (the registry base $BASE cannot be reached)" >&2
  BASE="$LOCAL_BASE"
fi
REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
LOCK_SHA256="$(sha256sum environment/requirements.lock | cut -d' ' -f1)"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n1)"
CA_MOUNT=()
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  CA_MOUNT=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/agc-build-ca.crt:ro)
fi
started=$(date +%s)
podman build --isolation=chroot --quiet -f environment/Dockerfile -t "$IMAGE" "${CA_MOUNT[@]}" \
  --build-arg BASE="$BASE" --build-arg REVISION="$REVISION" \
  --build-arg LOCK_SHA256="$LOCK_SHA256" --build-arg VERSION="$VERSION" . >/dev/null
seconds=$(( $(date +%s) - started ))
id="$(podman image inspect --format '{{.Id}}' "$IMAGE")"
size="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
echo "image $IMAGE: id ${id:0:12}, $(( size / 1000000 )) MB, built in ${seconds} s on $BASE"
