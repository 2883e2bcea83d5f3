#!/usr/bin/env bash
# Build job/Dockerfile without a container registry or daemon (`make image`).
#
# 1. A Debian bookworm root filesystem with python3 and python3-venv, made by
#    debootstrap from Debian's package archive and cached as a tarball under
#    .cache/image/ (reused when present; delete it to refresh the base).
# 2. That tarball imported into buildah's local storage as
#    localhost/kaudit-base:bookworm-<sha of the tarball>.
# 3. `buildah bud --isolation chroot --build-arg BASE_IMAGE=<that image>`: the
#    same recipe as the published image, which takes python:*-slim instead.
# 4. The image's size and digest, and a CycloneDX SBOM of its /opt/kaudit venv
#    (cyclonedx-bom from PyPI), written to build/image/.
#
# Needs root (debootstrap, chroot) and the Debian packages buildah and
# debootstrap (`make image` installs them when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/kaudit:$(sed -n 's/^__version__ = "\(.*\)"/\1/p' kaudit/__init__.py)}
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=.cache/image
OUT=build/image
BASE_TAR=$CACHE/debian-$SUITE-python3.tar
SBOM_TOOL=cyclonedx-bom==7.5.0
mkdir -p "$CACHE" "$OUT"
seconds() { date +%s; }
t0=$(seconds)

# -- 1. the base root filesystem (cached) -----------------------------------------
if [ -s "$BASE_TAR" ]; then
  echo "base: cached $BASE_TAR"
else
  echo "base: debootstrap $SUITE (python3, python3-venv) from $MIRROR; takes minutes"
  rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv "$SUITE" "$rootfs" "$MIRROR" \
    > "$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log"; exit 1; }
  # Trimmed as Debian's -slim images are (docs, man pages, locales, apt
  # caches); device nodes are the runtime's business, not the image's.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
         "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/lintian \
         "$rootfs"/dev/* "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old
  find "$rootfs"/usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs"/usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  tar --numeric-owner --xattrs -C "$rootfs" -cf "$BASE_TAR.tmp" .
  mv "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf "$rootfs"
  trap - EXIT
fi
t1=$(seconds)

# -- 2. imported as a local image -------------------------------------------------
BASE_IMAGE=localhost/kaudit-base:$SUITE-$(sha256sum "$BASE_TAR" | cut -c1-12)
if buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "base: $BASE_IMAGE already imported"
else
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$BASE_TAR" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd /bin/bash "$ctr"
  buildah commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null
  echo "base: imported as $BASE_IMAGE"
fi
t2=$(seconds)

# -- 3. the image ------------------------------------------------------------------
# chroot isolation shares the host's network, so pip reaches PyPI during RUN.
# pip trusts the CA bundle this machine trusts (a TLS-inspecting egress proxy
# signs with its own CA), mounted for the build only; the image keeps its own.
ca=()
host_ca=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$host_ca" ] && ca=(--volume "$(realpath "$host_ca"):/run/kaudit-build-ca.crt:ro"
                        --build-arg PIP_CERT=/run/kaudit-build-ca.crt)
buildah bud --isolation chroot --layers --pull-never --quiet "${ca[@]}" \
  --build-arg BASE_IMAGE="$BASE_IMAGE" -f job/Dockerfile -t "$IMAGE" . >/dev/null
t3=$(seconds)

# -- 4. size, digest, SBOM -----------------------------------------------------------
digest=$(buildah inspect --type image --format '{{.FromImageDigest}}' "$IMAGE")
size=$(buildah images --noheading --format '{{.Size}}' "$IMAGE" | head -1)
# The SBOM lists what the image's own interpreter sees (its sys.path, read
# inside the image) in the image's root filesystem: the /opt/kaudit venv.
tools=$CACHE/sbom-venv
if [ ! -x "$tools/bin/cyclonedx-py" ]; then
  rm -rf "$tools"
  { python3 -m venv "$tools" && "$tools/bin/pip" install -q "$SBOM_TOOL"; } > "$CACHE/sbom-install.log" 2>&1 \
    || { tail -20 "$CACHE/sbom-install.log"; exit 1; }
fi
ctr=$(buildah from --pull-never "$IMAGE")
root=$(buildah mount "$ctr")
shim=$(mktemp -d)
trap 'buildah umount "$ctr" >/dev/null; buildah rm "$ctr" >/dev/null; rm -rf "$shim"' EXIT
cat > "$shim/python" <<EOF
#!/bin/sh
# cyclonedx-py asks this "interpreter" for sys.path: the image's, as host paths.
exec chroot "$root" /opt/kaudit/bin/python -c 'import json, sys; json.dump(["$root" + p for p in sys.path if p], sys.stdout)'
EOF
chmod +x "$shim/python"
name=$(basename "${IMAGE//:/-}")
"$tools/bin/cyclonedx-py" environment --output-reproducible --of JSON \
  --output-file "$OUT/$name.cdx.json" "$shim/python"
components=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["components"]))' "$OUT/$name.cdx.json")
printf 'image=%s\ndigest=%s\nsize=%s\nbase=%s\n' "$IMAGE" "$digest" "$size" "$BASE_IMAGE" > "$OUT/$name.txt"
t4=$(seconds)

echo "image:  $IMAGE"
echo "digest: $digest"
echo "size:   $size"
echo "sbom:   $OUT/$name.cdx.json ($components Python components in /opt/kaudit)"
echo "time:   base $((t1 - t0)) s, import $((t2 - t1)) s, build $((t3 - t2)) s, sbom $((t4 - t3)) s"
