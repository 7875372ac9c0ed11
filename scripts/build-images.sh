#!/usr/bin/env bash
# Builds berth's local images offline, from programs installed on this machine, with `docker import` of
# root filesystems assembled here: no registry, no Dockerfile, no network (docs/images.md).
#
#   scripts/build-images.sh [--force] [IMAGE...]     IMAGE: busybox:local, node:local, nginx:latest (default: all)
#
#   busybox:local  Debian's busybox-static: /bin/busybox and a symlink per applet; CMD sh
#   node:local     this machine's Node ($(command -v node)) with the libraries ldd lists and the loader,
#                  plus busybox's applets (sh, nc … for probes and sidecars); CMD node
#   nginx:latest   Debian's nginx (package nginx-light) with its libraries, mime.types, a minimal
#                  nginx.conf (one worker, logs to stdout/stderr, port 80, /usr/share/nginx/html, and an
#                  `X-Served-By: <hostname>` header on every answer), workers as nobody:nogroup, plus
#                  busybox's applets; CMD nginx -g 'daemon off;'
#
# Every image carries the labels io.berth.built-by=scripts/build-images.sh and io.berth.source=<hash of
# this script and the files copied in>. Idempotent: an image whose io.berth.source matches is left as it
# is ("present"); one built from other files (Node or nginx upgraded, this script changed) is built
# again, and the image it replaces is removed when no container uses it. An image of the same name that
# this script did not build is never replaced without --force. Each new image is tried once (a
# container runs it with no network) and removed again when that fails. Prints one line per image.
set -euo pipefail

readonly BUILT_BY='scripts/build-images.sh'
readonly ALL_IMAGES=(busybox:local node:local nginx:latest)
readonly IMAGE_PATH='/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
readonly BUSYBOX=/bin/busybox
readonly NGINX=/usr/sbin/nginx

die() {
  echo "build-images: $*" >&2
  exit 1
}

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
}

force=0
images=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h | --help) usage; exit 0 ;;
    busybox:local | node:local | nginx:latest) images+=("$arg") ;;
    *) die "unknown argument \"$arg\" (images: ${ALL_IMAGES[*]}; option: --force)" ;;
  esac
done
[ ${#images[@]} -gt 0 ] || images=("${ALL_IMAGES[@]}")

wants() {
  local i
  for i in "${images[@]}"; do [ "$i" = "$1" ] && return 0; done
  return 1
}

# --- prerequisites, all checked before anything is built --------------------------------------------
command -v docker >/dev/null || die "docker not found: apt-get install docker.io"
command -v tar >/dev/null || die "tar not found: apt-get install tar"
command -v sha256sum >/dev/null || die "sha256sum not found: apt-get install coreutils"
command -v ldd >/dev/null || die "ldd not found: apt-get install libc-bin"
docker_error=$(docker info --format '{{.ServerVersion}}' 2>&1 >/dev/null) ||
  die "no Docker engine answers (${DOCKER_HOST:-unix:///var/run/docker.sock}): ${docker_error}; start dockerd (systemctl start docker)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found: apt-get install busybox-static"
# A dynamic busybox (Debian's package busybox) would need its libraries in every image.
if ldd "$BUSYBOX" >/dev/null 2>&1; then die "$BUSYBOX is linked dynamically: apt-get install busybox-static"; fi
if wants node:local; then
  NODE=$(command -v node) || die "node not found: install Node 20 (node:local copies this machine's node)"
  NODE=$(readlink -f "$NODE")
fi
if wants nginx:latest; then
  [ -x "$NGINX" ] || die "$NGINX not found: apt-get install nginx-light"
  [ -f /etc/nginx/mime.types ] || die "/etc/nginx/mime.types not found: apt-get install nginx-common"
fi

workdir=$(mktemp -d "${TMPDIR:-/tmp}/berth-build-images.XXXXXX")
trap 'rm -rf "$workdir"' EXIT

# --- rootfs pieces --------------------------------------------------------------------------------------

# The shared libraries a dynamic executable needs, as absolute paths (the loader included).
libraries_of() {
  local out
  out=$(ldd "$1") || die "ldd $1 failed: $out"
  if grep -q 'not found' <<<"$out"; then die "$1 needs libraries this machine lacks: $(grep 'not found' <<<"$out" | tr -s ' \t' ' ')"; fi
  grep -o '/[^ ]*' <<<"$out" | sort -u
}

# Copies a file to the same path under the root, following symlinks (a library's soname link becomes a file).
copy_in() {
  local root=$1 file=$2
  mkdir -p "$root$(dirname "$file")"
  cp -L --preserve=mode "$file" "$root$file"
}

# /tmp, /root, /etc/passwd with root and nobody, /etc/group with root and nogroup, files-only NSS.
add_base() {
  local root=$1
  mkdir -p "$root"/{etc,root,tmp,run,var/tmp}
  chmod 1777 "$root/tmp" "$root/var/tmp"
  chmod 0700 "$root/root"
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$root/etc/group"
  printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$root/etc/nsswitch.conf"
}

# /bin/busybox and one symlink per applet, where busybox would install it; files already there win.
add_busybox() {
  local root=$1 applet applets dirs
  copy_in "$root" "$BUSYBOX"
  applets=$("$BUSYBOX" --list-full)
  # One mkdir for all the applets' directories, then one ln per applet (forks are what this costs).
  mapfile -t dirs < <(sed -n 's#^\(.*\)/[^/]*$#\1#p' <<<"$applets" | sort -u)
  (cd "$root" && mkdir -p "${dirs[@]}")
  while read -r applet; do
    [ -n "$applet" ] && [ ! -e "$root/$applet" ] && [ ! -L "$root/$applet" ] || continue
    ln -s "$BUSYBOX" "$root/$applet"
  done <<<"$applets"
}

add_dynamic() {
  local root=$1 binary=$2 lib libs
  libs=$(libraries_of "$binary")
  copy_in "$root" "$binary"
  for lib in $libs; do copy_in "$root" "$lib"; done
}

add_nginx() {
  local root=$1
  add_dynamic "$root" "$NGINX"
  mkdir -p "$root"/etc/nginx "$root"/var/log/nginx "$root"/var/lib/nginx "$root"/usr/share/nginx/html "$root"/var/lock
  cp /etc/nginx/mime.types "$root/etc/nginx/mime.types"
  # As the official image: the compiled-in log paths lead to the container's output.
  ln -s /dev/stdout "$root/var/log/nginx/access.log"
  ln -s /dev/stderr "$root/var/log/nginx/error.log"
  if [ -f /usr/share/nginx/html/index.html ]; then
    cp /usr/share/nginx/html/index.html "$root/usr/share/nginx/html/index.html"
  else
    printf '%s\n' '<!DOCTYPE html>' '<html><head><title>Welcome to nginx!</title></head>' \
      '<body><h1>Welcome to nginx!</h1></body></html>' >"$root/usr/share/nginx/html/index.html"
  fi
  cat >"$root/etc/nginx/nginx.conf" <<'EOF'
# nginx:latest as scripts/build-images.sh builds it (berth's docs/images.md); `daemon off;` is in CMD.
user nobody nogroup;
worker_processes 1;
pid /run/nginx.pid;
error_log /dev/stderr notice;

events {
  worker_connections 1024;
}

http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log /dev/stdout;
  sendfile on;
  keepalive_timeout 65;

  server {
    listen 80 default_server;
    server_name _;
    root /usr/share/nginx/html;
    index index.html index.htm;
    # Which instance answered: the container's hostname.
    add_header X-Served-By $hostname always;
    location / {
      try_files $uri $uri/ =404;
    }
  }
}
EOF
}

# --- one image ------------------------------------------------------------------------------------------

# The source hash: this script and every file copied in, so that an upgrade of any of them rebuilds.
source_hash() {
  local files=("$0" "$BUSYBOX" "$@")
  sha256sum "${files[@]}" | awk '{ print $1 }' | sha256sum | cut -c1-16
}

label_of() {
  docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# build_image REF ROOT SOURCE SMOKE_CMD CHANGE... — ROOT assembled by the caller. The engine takes CMD,
# ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR on import (not STOPSIGNAL: nginx stops
# on Docker's default SIGTERM, a fast shutdown, where the official image asks SIGQUIT's graceful one).
build_image() {
  local ref=$1 root=$2 source=$3 smoke=$4
  shift 4
  local started=$SECONDS old_id='' id
  if docker image inspect "$ref" >/dev/null 2>&1; then
    if [ "$(label_of "$ref" io.berth.built-by)" = "$BUILT_BY" ]; then
      old_id=$(docker image inspect --format '{{.Id}}' "$ref")
    fi
  fi
  local args=(--change "LABEL io.berth.built-by=$BUILT_BY" --change "LABEL io.berth.source=$source" --change "ENV PATH=$IMAGE_PATH")
  local change
  for change in "$@"; do args+=(--change "$change"); done
  id=$(tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . | docker import "${args[@]}" - "$ref") ||
    die "$ref: docker import failed"
  # Tried once, with no network: a broken image is not left behind to be taken for a good one.
  local out
  if ! out=$(docker run --rm --network none "$ref" sh -c "$smoke" 2>&1); then
    docker image rm "$ref" >/dev/null 2>&1 || true
    die "$ref: the new image does not run ($smoke): $out"
  fi
  if [ -n "$old_id" ] && [ "$old_id" != "$id" ]; then
    # The image this one replaces, if no container uses it (never one this script did not build).
    docker image rm "$old_id" >/dev/null 2>&1 || true
  fi
  local size
  size=$(docker image inspect --format '{{.Size}}' "$ref")
  echo "$ref: built (${id:7:12}, $((size / 1024 / 1024)) MiB, $((SECONDS - started)) s)"
}

# present REF SOURCE → 0 when nothing is to be done (and says so), 1 when the image is to be built.
present() {
  local ref=$1 source=$2
  docker image inspect "$ref" >/dev/null 2>&1 || return 1
  [ "$force" = 0 ] || return 1
  if [ "$(label_of "$ref" io.berth.built-by)" != "$BUILT_BY" ]; then
    echo "$ref: present, not built by this script (left alone; --force replaces it)"
    return 0
  fi
  if [ "$(label_of "$ref" io.berth.source)" = "$source" ]; then
    echo "$ref: present"
    return 0
  fi
  return 1
}

if wants busybox:local; then
  source=$(source_hash)
  if ! present busybox:local "$source"; then
    root="$workdir/busybox"
    add_base "$root"
    add_busybox "$root"
    build_image busybox:local "$root" "$source" 'echo ok' 'CMD ["sh"]'
  fi
fi

if wants node:local; then
  libs=$(libraries_of "$NODE")
  mapfile -t node_libs <<<"$libs"
  source=$(source_hash "$NODE" "${node_libs[@]}")
  if ! present node:local "$source"; then
    root="$workdir/node"
    add_base "$root"
    add_dynamic "$root" "$NODE"
    # The node of the image is /usr/bin/node whatever this machine's path is (e.g. /usr/local/bin/node).
    if [ "$NODE" != /usr/bin/node ]; then
      mkdir -p "$root/usr/bin"
      ln -sf "$NODE" "$root/usr/bin/node"
    fi
    add_busybox "$root"
    build_image node:local "$root" "$source" 'node -e "console.log(1)"' 'CMD ["node"]'
  fi
fi

if wants nginx:latest; then
  libs=$(libraries_of "$NGINX")
  mapfile -t nginx_libs <<<"$libs"
  source=$(source_hash "$NGINX" "${nginx_libs[@]}" /etc/nginx/mime.types)
  if ! present nginx:latest "$source"; then
    root="$workdir/nginx"
    add_base "$root"
    add_nginx "$root"
    add_busybox "$root"
    build_image nginx:latest "$root" "$source" 'nginx -t -q' \
      'CMD ["nginx", "-g", "daemon off;"]' 'EXPOSE 80/tcp'
  fi
fi
