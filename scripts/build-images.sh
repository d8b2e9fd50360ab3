#!/usr/bin/env bash
# Build both images from the Dockerfile on a machine without a Docker engine, run each
# image's own command inside it, and print the figures that docs/hosting.md quotes.
#
#   sudo scripts/build-images.sh          # or: make images   (about 15 minutes on 2 cores)
#
# What it does, on a Debian bookworm machine that reaches Debian's packages and PyPI:
#  1. installs buildah, mmdebstrap, podman and uidmap (and chromium, iproute2, curl)
#     where missing;
#  2. makes a Python 3.11 base image from Debian's packages (localhost/bookworm-py) where
#     missing: python:3.11-slim cannot be pulled without a registry;
#  3. builds the dashboard image (the default stage) and the light image (--target light)
#     with `buildah bud --isolation chroot`. This machine's pip settings (`pip config
#     list`: certificate bundle, local wheel folders and indexes) go in only as
#     --build-arg and read-only --volume here; the Dockerfile's defaults stay the public
#     build (python:3.11-slim, torch's CPU wheels from the PyTorch CPU index);
#  4. runs the dashboard's command (CMD) as the image's user (app, uid 10001) with the
#     image's environment and working folder, in its own network, PID and mount namespace:
#     a read-only root file system (/app included), a tmpfs /tmp and a fresh copy of the
#     image's /var/lib/cover-lab as the volume, which is all it can write. It waits for
#     /_stcore/health, runs the image's HEALTHCHECK command inside it, and a real browser
#     (Debian's chromium, the project's playwright; scripts/check_dashboard.py) uploads a
#     cover on Predict and waits for the answer, twice (two visitors);
#  5. runs the light image's ENTRYPOINT the same way on one cover, then on 20;
#  6. prints build times, sizes (with the size expected with torch's CPU wheels), time to
#     healthy and answer latencies, each timing with the load average beside it.
# `podman run` is not used: crun cannot set rlimits or cgroups on these machines.
#
# Settings (environment): IMAGE (localhost/cover-lab: tags :latest and :light),
# BASE (localhost/bookworm-py), WORK (/var/tmp/cover-lab-images: logs, figures, the
# volume copy), PYTHON (.venv/bin/python, for the browser check), NO_CACHE=1 (build every
# step again: a rerun otherwise takes unchanged steps from the layer cache, and says how
# many), SKIP_BUILD=1 (run the checks on the images already built), KEEP_CACHE=1 (keep the
# ONNX export stage's layers, which no final image needs; removed at the end by default).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=${IMAGE:-localhost/cover-lab}
BASE=${BASE:-localhost/bookworm-py}
WORK=${WORK:-/var/tmp/cover-lab-images}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
REAL_COVERS=${REAL_COVERS:-$ROOT/../shared/data/real-covers}
NS=cover-lab-$$                      # the containers' network namespace
FIGURES=$WORK/figures.md
LOGS=$WORK/logs

[ "$(id -u)" = 0 ] || { echo "run as root (buildah's chroot isolation, mounts, namespaces)" >&2; exit 1; }
mkdir -p "$LOGS"
: > "$FIGURES"

say() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
figure() { printf '%s\n' "$*" | tee -a "$FIGURES"; }
gb() { awk -v b="$1" 'BEGIN { printf "%.2f GB", b / 1e9 }'; }
fail() { echo "FAILED: $*" >&2; exit 1; }

# --- cleanup: whatever this run started, by its own ids ---------------------------------
CONTAINERS=() SERVER="" SOURCE_MOUNTS=()
cleanup() {
    set +e
    [ -n "$SERVER" ] && stop_server
    for c in "${CONTAINERS[@]}"; do buildah umount "$c" >/dev/null 2>&1; buildah rm "$c" >/dev/null 2>&1; done
    ip netns delete "$NS" 2>/dev/null
    unbind_sources
}
trap cleanup EXIT

# --- 1. packages -------------------------------------------------------------------------
say "packages"
missing=()
for pair in buildah:buildah mmdebstrap:mmdebstrap podman:podman newuidmap:uidmap chromium:chromium \
        ip:iproute2 curl:curl; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -q >"$LOGS/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$LOGS/apt.log" 2>&1 \
        || { tail -20 "$LOGS/apt.log"; fail "apt-get install"; }
fi
[ -x "$PYTHON" ] || fail "no $PYTHON: make setup first (the browser check uses the project's playwright)"
buildah --version

# --- 2. the base image -------------------------------------------------------------------
say "base image $BASE"
if buildah inspect --type image "$BASE" >/dev/null 2>&1; then
    echo "present"
else
    start=$(now)
    mmdebstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$WORK/base.tar" >"$LOGS/mmdebstrap.log" 2>&1 || { tail -20 "$LOGS/mmdebstrap.log"; fail mmdebstrap; }
    podman import "$WORK/base.tar" "$BASE" >>"$LOGS/mmdebstrap.log" 2>&1 || fail "podman import"
    rm -f "$WORK/base.tar"
    figure "base image made from Debian's packages: $(since "$start") s (load $(load))"
fi

# --- 3. this machine's pip settings, as build arguments and read-only volumes ----------------
say "pip settings"
HOST_PIP=(python3 -m pip)
"${HOST_PIP[@]}" --version >/dev/null 2>&1 || HOST_PIP=("$PYTHON" -m pip)
pip_setting() {   # NAME: the host's pip setting, the environment's before the files', or ""
    "${HOST_PIP[@]}" config list 2>/dev/null | python3 -c '
import sys
found = {}
for line in sys.stdin:
    key, _, value = line.strip().partition("=")
    scope, _, option = key.rpartition(".")
    if option == sys.argv[1]:
        found[scope] = value.strip("\x27\"")
print(next((found[s] for s in (":env:", "site", "user", "global") if s in found), ""))' "$1"
}
# The local folders are bound under one folder that the builds see as /mnt (an empty folder
# in Debian's images): a volume's mount point is left in the image as an empty folder, and
# /opt/wheels or /opt/pypi there would describe this machine. The certificate bundle goes
# over the image's own, which exists on any Debian base with ca-certificates.
SOURCES=$WORK/pip-sources
EXTRA_PIP_ARGS="" VOLUMES=()
for m in "$SOURCES"/*; do mountpoint -q "$m" && umount "$m"; done 2>/dev/null || true   # a stopped run's
bind_source() {   # HOST-FOLDER: bound at $SOURCES/N; sets BOUND, its path inside the builds
    local n=${#SOURCE_MOUNTS[@]}
    mkdir -p "$SOURCES/$n"
    mount --bind "$1" "$SOURCES/$n"
    SOURCE_MOUNTS+=("$SOURCES/$n")
    BOUND=/mnt/$n
}
unbind_sources() {
    local m
    for m in "${SOURCE_MOUNTS[@]}"; do umount "$m" 2>/dev/null; rmdir "$m" 2>/dev/null; done
    SOURCE_MOUNTS=()
}
local_index() {   # URL: sets INDEX, the same index inside the builds (a local index's pages
    INDEX=$1      # link to its files beside it, ../../files: the folder above is bound)
    case $1 in
        file://*) bind_source "$(dirname "${1#file://}")"; INDEX=file://$BOUND/$(basename "${1#file://}") ;;
    esac
}
cert=$(pip_setting cert)
if [ -n "$cert" ] && [ -f "$cert" ]; then
    EXTRA_PIP_ARGS+=" --cert /etc/ssl/certs/ca-certificates.crt"
    VOLUMES+=(--volume "$cert:/etc/ssl/certs/ca-certificates.crt:ro")
fi
for dir in $(pip_setting find-links); do
    dir=${dir#file://}
    if [ -d "$dir" ]; then bind_source "$dir"; EXTRA_PIP_ARGS+=" --find-links $BOUND"; fi
done
for url in $(pip_setting extra-index-url); do
    local_index "$url"; EXTRA_PIP_ARGS+=" --extra-index-url $INDEX"
done
index=$(pip_setting index-url)
local_index "${index:-https://pypi.org/simple}"
TORCH_PIP_ARGS="--index-url $INDEX"
[ ${#SOURCE_MOUNTS[@]} -eq 0 ] || VOLUMES+=(--volume "$SOURCES:/mnt:ro")
echo "TORCH_PIP_ARGS=$TORCH_PIP_ARGS"
echo "EXTRA_PIP_ARGS=${EXTRA_PIP_ARGS# }"
echo "volumes: ${VOLUMES[*]:-none}"

# --- builds ------------------------------------------------------------------------------
build() {   # NAME TAG [buildah bud options]: build from the project folder, timed
    local name=$1 tag=$2; shift 2
    say "build $name ($tag)"
    if [ "${SKIP_BUILD:-}" = 1 ] && buildah inspect --type image "$tag" >/dev/null 2>&1; then
        echo "SKIP_BUILD=1: the image there is used"; return
    fi
    local start; start=$(now)
    local load_before; load_before=$(load)
    local cache=(--layers); [ "${NO_CACHE:-}" = 1 ] && cache+=(--no-cache)
    if ! buildah bud --isolation chroot --format docker "${cache[@]}" \
            --build-arg "BASE_IMAGE=$BASE" \
            --build-arg "TORCH_PIP_ARGS=$TORCH_PIP_ARGS" \
            --build-arg "EXTRA_PIP_ARGS=${EXTRA_PIP_ARGS# }" \
            "${VOLUMES[@]}" "$@" -t "$tag" "$ROOT" >"$LOGS/build-$name.log" 2>&1; then
        tail -30 "$LOGS/build-$name.log"; fail "build $name (log: $LOGS/build-$name.log)"
    fi
    local cached; cached=$(grep -c '^--> Using cache' "$LOGS/build-$name.log" || true)
    figure "build, $name image: $(since "$start") s (load $load_before before, $(load) after;" \
        "$cached steps from the layer cache)"
}
build dashboard "$IMAGE:latest"
build light "$IMAGE:light" --target light
echo "(the light build takes its torch stage, for the ONNX export, from the dashboard build's layer cache)" | tee -a "$FIGURES"

# --- running an image's own command ------------------------------------------------------
image_config() {   # IMAGE: CFG_USER CFG_WORKDIR CFG_ENV CFG_ENTRY CFG_CMD CFG_HEALTH from its config
    eval "$(buildah inspect --type image "$1" | python3 -c '
import json, shlex, sys
c = json.load(sys.stdin)["Docker"]["config"]
words = lambda xs: "(" + " ".join(shlex.quote(x) for x in xs or []) + ")"
test = (c.get("Healthcheck") or {}).get("Test") or []
print("CFG_USER=" + shlex.quote(c.get("User") or "root"))
print("CFG_WORKDIR=" + shlex.quote(c.get("WorkingDir") or "/"))
print("CFG_ENV=" + words(c.get("Env")))
print("CFG_ENTRY=" + words(c.get("Entrypoint")))
print("CFG_CMD=" + words(c.get("Cmd")))
print("CFG_HEALTH=" + words(test[1:] if test[:1] == ["CMD"] else []))')"
}

open_image() {   # IMAGE: a working container of it, mounted; sets ROOTFS and RUN_AS (uid:gid)
    local ctr; ctr=$(buildah from --pull-never "$1")
    CONTAINERS+=("$ctr")
    ROOTFS=$(buildah mount "$ctr")
    image_config "$1"
    case $CFG_USER in
        *[!0-9:]*) RUN_AS=$(awk -F: -v u="${CFG_USER%%:*}" '$1 == u { print $3 ":" $4 }' "$ROOTFS/etc/passwd") ;;
        *:*) RUN_AS=$CFG_USER ;;
        *) RUN_AS=$CFG_USER:$CFG_USER ;;
    esac
    [ -n "$RUN_AS" ] || fail "user $CFG_USER not in the image"
    HOME_DIR=$(awk -F: -v u="${RUN_AS%%:*}" '$3 == u { print $6 }' "$ROOTFS/etc/passwd")
}

# Inside: the root file system bound read-only, the binds (SRC:DST:ro|rw) over it, /proc,
# /dev and a tmpfs /tmp; then the image's user, environment and working folder. Its own
# mount and PID namespaces (unshare) inside the network namespace $NS: only loopback.
INSIDE='
set -e
root=$1 user=$2 workdir=$3 n=$4; shift 4
mount --bind "$root" "$root"
for ((i = 0; i < n; i++)); do
    IFS=: read -r src dst mode <<<"$1"; shift
    mkdir -p "$root$dst"
    mount --bind "$src" "$root$dst"
    [ "$mode" = rw ] || mount -o remount,bind,ro "$root$dst"
done
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777,size=1g tmpfs "$root/tmp"
mount -o remount,bind,ro "$root"
n=$1; shift
env=("${@:1:n}"); shift "$n"
exec chroot --userspec="$user" --groups="${user#*:}" "$root" /usr/bin/env -i "${env[@]}" \
    /bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$workdir" "$@"
'
in_image() {   # BINDS-ARRAY-NAME COMMAND...: run COMMAND as the image runs its own
    local -n binds=$1; shift
    local env=("${CFG_ENV[@]}" "HOME=$HOME_DIR" "HOSTNAME=cover-lab")
    ip netns exec "$NS" unshare --mount --pid --fork --kill-child --propagation private \
        bash -c "$INSIDE" inside "$ROOTFS" "$RUN_AS" "$CFG_WORKDIR" \
        "${#binds[@]}" "${binds[@]}" "${#env[@]}" "${env[@]}" "$@"
}
in_server() {   # COMMAND...: run COMMAND beside the running server, in its namespaces and root
    local uid=${RUN_AS%%:*} gid=${RUN_AS#*:}
    nsenter -t "$SERVER_PID" -m -n -p -r -w -S "$uid" -G "$gid" -- \
        /usr/bin/env -i "${CFG_ENV[@]}" "HOME=$HOME_DIR" "$@"
}
children() { cat /proc/"$1"/task/*/children 2>/dev/null; }
find_server_pid() {   # the image's command below the background job $SERVER: subshell, unshare, it
    local pid
    for pid in $(children "$SERVER"); do
        for SERVER_PID in $(children "$pid"); do return 0; done
    done
    return 1
}
stop_server() {   # SIGTERM to the server, as docker stop; then the namespace's init, for sure
    local unshare_pid
    [ -z "${SERVER_PID:-}" ] || kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 40); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.5; done
    for unshare_pid in $(children "$SERVER"); do kill -KILL "$unshare_pid" 2>/dev/null; done  # --kill-child
    wait "$SERVER" 2>/dev/null || true
    SERVER="" SERVER_PID=""
}

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up

# --- covers: real ones where ../shared has them (read in place), synthetic otherwise -------
say "covers"
if [ -f "$REAL_COVERS/manifest.csv" ]; then
    COVER_DIR=$(cd "$REAL_COVERS" && pwd)
    mapfile -t COVERS < <(python3 -c '
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["split"] == "test"]
by_genre = {}
for r in rows:
    by_genre.setdefault(r["genre"], []).append(r["path"])
picked = []
while len(picked) < 20 and any(by_genre.values()):
    for paths in by_genre.values():
        if paths and len(picked) < 20:
            picked.append(paths.pop(0))
print("\n".join(picked))' "$COVER_DIR/manifest.csv")
    echo "${#COVERS[@]} real test covers from $COVER_DIR"
else
    COVER_DIR=$WORK/covers
    rm -rf "$COVER_DIR"; mkdir -p "$COVER_DIR"
    (cd "$ROOT" && "$PYTHON" -c '
import os, sys, cv2
from cover_model.genres import PAPER_GENRES
from cover_model.synth import render_cover
for i in range(20):
    genre = PAPER_GENRES[i % len(PAPER_GENRES)]
    rgb = render_cover(genre, seed=123, index=i)
    cv2.imwrite(os.path.join(sys.argv[1], f"{i:02d}-{genre.replace(os.sep, chr(45))}.jpg"),
                cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
print("\n".join(sorted(os.listdir(sys.argv[1]))))' "$COVER_DIR" >"$WORK/covers.txt")
    mapfile -t COVERS <"$WORK/covers.txt"
    echo "${#COVERS[@]} synthetic covers (no real covers at $REAL_COVERS)"
fi
[ ${#COVERS[@]} -ge 2 ] || fail "no covers"

# --- 4. the dashboard image --------------------------------------------------------------
say "dashboard: the image's command, read-only root, as its user"
open_image "$IMAGE:latest"
echo "user $CFG_USER ($RUN_AS), workdir $CFG_WORKDIR, command: ${CFG_CMD[*]}"
[ "${RUN_AS%%:*}" != 0 ] || fail "the dashboard image runs as root"
VOLUME_DIR=$WORK/volume
rm -rf "$VOLUME_DIR"
cp -a "$ROOTFS/var/lib/cover-lab" "$VOLUME_DIR"      # what a new named volume starts as
DASH_BINDS=("$VOLUME_DIR:/var/lib/cover-lab:rw")
start=$(now) load_before=$(load)
in_image DASH_BINDS "${CFG_ENTRY[@]}" "${CFG_CMD[@]}" >"$LOGS/dashboard-server.log" 2>&1 &
SERVER=$!
healthy=""
for _ in $(seq 600); do
    kill -0 "$SERVER" 2>/dev/null || { cat "$LOGS/dashboard-server.log"; fail "the server exited"; }
    if [ "$(ip netns exec "$NS" curl -s -m 2 http://127.0.0.1:8501/_stcore/health 2>/dev/null)" = ok ]; then
        healthy=$(since "$start"); break
    fi
    sleep 0.5
done
[ -n "$healthy" ] || { cat "$LOGS/dashboard-server.log"; fail "not healthy after 300 s"; }
figure "dashboard: start to /_stcore/health answering ok: $healthy s (load $load_before at start)"
find_server_pid || fail "no server process"
echo "server: uid $(stat -c %u "/proc/$SERVER_PID") in the image's root, on 0.0.0.0:8501 of its own network"
[ "$(stat -c %u "/proc/$SERVER_PID")" = "${RUN_AS%%:*}" ] || fail "the server does not run as $RUN_AS"

start=$(now)
in_server "${CFG_HEALTH[@]}" || fail "the image's HEALTHCHECK command failed"
echo "the image's HEALTHCHECK command, run inside: passed ($(since "$start") s)"
for path in /app/.probe /.probe; do      # as root, where file modes stop nothing
    probe=$(nsenter -t "$SERVER_PID" -m -r -- /bin/sh -c "touch $path" 2>&1 || true)
    case $probe in *"Read-only file system"*) ;; *) fail "$path could be written: $probe" ;; esac
done
echo "/app and the whole root file system are read-only, even for root; writable: the volume and /tmp"
touch "$WORK/.started"

say "dashboard: a browser uploads a cover on Predict"
visitors=("$COVER_DIR/${COVERS[0]}" "$COVER_DIR/${COVERS[1]}")
load_before=$(load)
ip netns exec "$NS" "$PYTHON" "$ROOT/scripts/check_dashboard.py" http://127.0.0.1:8501 \
    "${visitors[@]}" --shots "$WORK/screenshots" >"$WORK/browser.json" 2>"$LOGS/browser.log" \
    || { cat "$WORK/browser.json" "$LOGS/browser.log"; tail -40 "$LOGS/dashboard-server.log"; fail "the browser check"; }
python3 - "$WORK/browser.json" "$load_before" "$(load)" <<'EOF' | tee -a "$FIGURES"
import json, sys
visitors = json.load(open(sys.argv[1]))["visitors"]
for n, v in enumerate(visitors, 1):
    kind = "the first visitor after the start" if n == 1 else "the next visitor"
    print(f"dashboard, {kind}: Predict page ready {v['page_s']} s; upload to 'Most likely: "
          f"{v['genre']}' {v['answer_s']} s; to the whole answer (colour comparison) {v['full_answer_s']} s")
print(f"  (load {sys.argv[2]} before, {sys.argv[3]} after)")
EOF
grep -q "public mode" "$LOGS/dashboard-server.log" || fail "the server log does not say public mode"
! grep -q Traceback "$LOGS/dashboard-server.log" || { cat "$LOGS/dashboard-server.log"; fail "a traceback in the server log"; }
echo "written: $(find "$VOLUME_DIR" -newer "$WORK/.started" -type f | wc -l) files in the volume," \
     "$(in_server /bin/sh -c 'find /tmp -mindepth 1 | wc -l') entries in /tmp"
stop_server
echo "screenshots: $WORK/screenshots"

# --- 5. the light image ------------------------------------------------------------------
say "light: the image's entry point on covers"
open_image "$IMAGE:light"
echo "user $CFG_USER ($RUN_AS), entry point: ${CFG_ENTRY[*]}"
LIGHT_BINDS=("$COVER_DIR:/covers:ro")
in_image LIGHT_BINDS python -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is not None)' \
    || fail "torch is importable in the light image"
check_answers() {   # FILE COUNT: COUNT lines "cover: genre NN.N%, ..."
    local good; good=$(grep -cE '^/covers/.+: [a-z]+ [0-9.]+%' "$1" || true)
    [ "$good" = "$2" ] || { cat "$1"; fail "the light image answered $good covers of $2"; }
}
start=$(now) load_before=$(load)
in_image LIGHT_BINDS "${CFG_ENTRY[@]}" "/covers/${COVERS[0]}" >"$WORK/light-1.txt" 2>"$LOGS/light.log" \
    || { cat "$LOGS/light.log"; fail "the light image"; }
one=$(since "$start")
check_answers "$WORK/light-1.txt" 1
cat "$WORK/light-1.txt"
figure "light: one cover, a fresh process (imports, model, answer): $one s (load $load_before)"
start=$(now) load_before=$(load)
in_image LIGHT_BINDS "${CFG_ENTRY[@]}" "${COVERS[@]/#//covers/}" >"$WORK/light-20.txt" 2>>"$LOGS/light.log" \
    || { cat "$LOGS/light.log"; fail "the light image"; }
many=$(since "$start")
check_answers "$WORK/light-20.txt" "${#COVERS[@]}"
figure "light: ${#COVERS[@]} covers, one process: $many s, $(awk -v a="$one" -v b="$many" -v n="${#COVERS[@]}" \
    'BEGIN { printf "%.0f", (b - a) / (n - 1) * 1000 }') ms per further cover (load $load_before)"

# --- 6. sizes ----------------------------------------------------------------------------
say "sizes"
size() { podman image inspect --format '{{.Size}}' "$1"; }
dash=$(size "$IMAGE:latest") light=$(size "$IMAGE:light") base=$(size "$BASE")
open_image "$IMAGE:latest"
site=$(echo "$ROOTFS"/opt/venv/lib/python3*/site-packages)
bytes() { (cd "$site" && { du -scb "$@" 2>/dev/null || true; } | tail -1 | cut -f1); }   # what exists of them
# What only torch's CUDA build brings: torch itself is smaller as a CPU wheel, and the CPU
# wheels bring no nvidia-*, triton or cuda-* packages.
torch_cuda=$(bytes torch torch-*.dist-info functorch torchgen)
cuda=$(bytes torch torch-*.dist-info functorch torchgen nvidia nvidia_* triton triton-* cuda cuda_* cuda-*)
everything=$(du -sb "$site" | cut -f1)
figure "dashboard image: $(gb "$dash") (base $(gb "$base"); site-packages $(gb "$everything"), of which torch's CUDA build $(gb "$cuda"): torch $(gb "$torch_cuda") + the nvidia, triton and cuda packages $(gb $((cuda - torch_cuda))))"
figure "light image: $(gb "$light")"
cpu_wheel=$(for d in $(pip_setting find-links); do ls "${d#file://}"/torch-*+cpu-*.whl 2>/dev/null || true; done | sort -V | tail -1)
if [ -n "$cpu_wheel" ]; then
    rm -rf "$WORK/cpu-torch"
    "${HOST_PIP[@]}" install -q --no-deps --no-index --target "$WORK/cpu-torch" "$cpu_wheel" >"$LOGS/cpu-torch.log" 2>&1 \
        || { tail "$LOGS/cpu-torch.log"; fail "installing $cpu_wheel"; }
    torch_cpu=$(du -sb "$WORK/cpu-torch" | cut -f1)
    rm -rf "$WORK/cpu-torch"
    figure "torch CPU wheel installed: $(gb "$torch_cpu") ($(basename "$cpu_wheel"), the CPU wheel on this disk)"
    figure "dashboard image expected with the CPU wheels: $(gb $((dash - cuda + torch_cpu)))"
else
    echo "no torch CPU wheel in pip's find-links folders: the CPU-wheel estimate is left out"
fi

# --- the end -----------------------------------------------------------------------------
cleanup
CONTAINERS=()
if [ "${KEEP_CACHE:-}" != 1 ]; then
    buildah rmi --prune >/dev/null 2>&1 || true    # images no tag needs: the ONNX export stage
fi
say "figures (also in $FIGURES)"
cat "$FIGURES"
echo
echo "images: $IMAGE:latest (dashboard), $IMAGE:light, base $BASE"
