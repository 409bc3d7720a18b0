#!/usr/bin/env python3
"""Writes an OCI image archive (OCI image layout 1.0, as a tar: oci-layout, index.json,
blobs/sha256/...) of adc-server from a root file system directory: one gzip layer, an image
config (non-root user, /var/lib/adc-server as a volume, port 8080, entrypoint
`adc-server serve`) and a manifest. Standard library only: no container tool and no registry
is needed (scripts/release.sh, docs/product.md section 13).

    scripts/oci-image.py --rootfs DIR --user UID:GID --version V --output FILE.oci.tar

`podman load -i FILE` / `skopeo copy oci-archive:FILE ...` read it. The OCI config has no
field for a health check; the command the README documents is in the label
org.exchange4all.healthcheck."""
import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"

# Asks the server's health endpoint with bash alone (the image has no curl): exit 0 when it
# answers {"status":"ok"}.
HEALTHCHECK = ("bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 && "
               "printf \"GET /api/v1/health HTTP/1.0\\r\\n\\r\\n\" >&3 && "
               "grep -q \"\\\"status\\\":\\\"ok\\\"\" <&3'")


class HashingWriter(io.RawIOBase):
    """A file object that hashes and counts what is written through it."""

    def __init__(self, f):
        self.f = f
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self):
        return True

    def write(self, b):
        self.f.write(b)
        self.sha.update(b)
        self.size += len(b)
        return len(b)


def layer_from_rootfs(rootfs, path, mtime):
    """Writes rootfs as a gzip tar layer to path; returns (diff_id, digest, size)."""
    with open(path, "wb") as raw:
        compressed = HashingWriter(raw)
        with gzip.GzipFile(fileobj=compressed, mode="wb", compresslevel=6, mtime=mtime) as gz:
            uncompressed = HashingWriter(gz)
            with tarfile.open(fileobj=uncompressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                def clean(info):
                    # Numeric owners only (the image's /etc/passwd, not the host's, names them).
                    info.uname = info.gname = ""
                    return info
                # Sorted, so that the same root file system gives the same layer.
                for dirpath, dirnames, filenames in os.walk(rootfs):
                    dirnames.sort()
                    rel = os.path.relpath(dirpath, rootfs)
                    if rel != ".":
                        tar.add(dirpath, arcname=rel, recursive=False, filter=clean)
                    for name in sorted(filenames + [d for d in dirnames
                                                    if os.path.islink(os.path.join(dirpath, d))]):
                        full = os.path.join(dirpath, name)
                        tar.add(full, arcname=os.path.normpath(os.path.join(rel, name)),
                                recursive=False, filter=clean)
                    # Symbolic links to directories were added as links; os.walk must not
                    # descend into them.
                    dirnames[:] = [d for d in dirnames
                                   if not os.path.islink(os.path.join(dirpath, d))]
    return ("sha256:" + uncompressed.sha.hexdigest(), "sha256:" + compressed.sha.hexdigest(),
            compressed.size)


def blob(blobs, data):
    """Stores bytes as a blob; returns (digest, size)."""
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("--user", required=True, help="UID:GID the server runs as")
    ap.add_argument("--version", required=True)
    ap.add_argument("--output", required=True)
    args = ap.parse_args()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", time.time()))
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))

    work = tempfile.mkdtemp(prefix="adc-oci-")
    try:
        layout = os.path.join(work, "layout")
        blobs = os.path.join(layout, "blobs", "sha256")
        os.makedirs(blobs)
        tmp_layer = os.path.join(work, "layer.tar.gz")
        diff_id, layer_digest, layer_size = layer_from_rootfs(args.rootfs, tmp_layer, epoch)
        os.rename(tmp_layer, os.path.join(blobs, layer_digest.split(":", 1)[1]))

        config = {
            "created": created,
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "User": args.user,
                "ExposedPorts": {"8080/tcp": {}},
                "Env": [
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "ADC_SERVER_DB=/var/lib/adc-server/adc.db",
                ],
                "Entrypoint": ["/usr/bin/adc-server", "serve"],
                "Cmd": ["--listen", "0.0.0.0:8080",
                        "--downloads", "/usr/share/adc-server/downloads"],
                "Volumes": {"/var/lib/adc-server": {}},
                "WorkingDir": "/var/lib/adc-server",
                "StopSignal": "SIGTERM",
                "Labels": {
                    "org.opencontainers.image.title": "adc-server",
                    "org.opencontainers.image.version": args.version,
                    "org.opencontainers.image.description":
                        "ad-connect server: SCIM user directory, sync configurations, "
                        "agent channel, sign-in through the agent, web console",
                    "org.exchange4all.healthcheck": HEALTHCHECK,
                },
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": created,
                         "created_by": "scripts/release.sh: mmdebstrap --variant=minbase "
                                       "bookworm, apt-get install ./adc-server_%s_amd64.deb"
                                       % args.version}],
        }
        config_digest, config_size = blob(
            blobs, json.dumps(config, indent=2, sort_keys=True).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": MEDIA_LAYER, "digest": layer_digest, "size": layer_size}],
            "annotations": {"org.opencontainers.image.created": created},
        }
        manifest_digest, manifest_size = blob(
            blobs, json.dumps(manifest, indent=2, sort_keys=True).encode())
        index = {
            "schemaVersion": 2,
            "mediaType": MEDIA_INDEX,
            "manifests": [{
                "mediaType": MEDIA_MANIFEST, "digest": manifest_digest, "size": manifest_size,
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {"org.opencontainers.image.ref.name": args.version},
            }],
        }
        with open(os.path.join(layout, "index.json"), "w") as f:
            json.dump(index, f, indent=2, sort_keys=True)
        with open(os.path.join(layout, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

        tmp_out = args.output + ".tmp"
        with tarfile.open(tmp_out, "w", format=tarfile.PAX_FORMAT) as tar:
            def fixed(info):
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = epoch
                return info
            for name in ["oci-layout", "index.json", "blobs"]:
                tar.add(os.path.join(layout, name), arcname=name, filter=fixed)
        os.rename(tmp_out, args.output)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
