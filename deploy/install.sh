#!/bin/sh
# Installs Omen as a systemd service: `deploy/install.sh BIN PREFIX` (run as root by `make install`).
#
#   BIN     the built omen binary (e.g. .build/release/omen)
#   PREFIX  install prefix; the binary goes to PREFIX/bin (default /usr/local)
#
# Creates the `omen` system user if missing, installs the binary, the unit to /etc/systemd/system and the
# config to /etc/omen/omen.toml. An existing /etc/omen/omen.toml is never overwritten: the new default is put
# beside it as omen.toml.default. The config is config/omen.toml (the one source of truth) with only the
# database line rewritten to /var/lib/omen/omen.db.
#
# DESTDIR=/some/root installs into a staging tree (packaging, tests): no user is created, nothing is chowned
# and systemd is not touched.
set -eu

usage() { echo "usage: $0 BIN [PREFIX]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
BIN=$1
PREFIX=${2:-/usr/local}
DESTDIR=${DESTDIR:-}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC_CONFIG="$HERE/../config/omen.toml"
UNIT="$HERE/omen.service"
STATE_DB=/var/lib/omen/omen.db

[ -x "$BIN" ] || { echo "error: $BIN is not an executable; build it first (make build)" >&2; exit 1; }
[ -f "$SRC_CONFIG" ] || { echo "error: $SRC_CONFIG is missing" >&2; exit 1; }
[ -f "$UNIT" ] || { echo "error: $UNIT is missing" >&2; exit 1; }
case $PREFIX in /*) ;; *) echo "error: PREFIX must be an absolute path, got $PREFIX" >&2; exit 1 ;; esac
if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
    echo "error: run as root (sudo make install), or set DESTDIR to stage the files" >&2
    exit 1
fi

# 1. The service user and group.
if [ -z "$DESTDIR" ] && ! getent passwd omen >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/omen --no-create-home \
        --shell /usr/sbin/nologin --comment "Omen anomaly detection" omen
    echo "created system user omen"
fi

# 2. The binary.
install -D -m 0755 "$BIN" "$DESTDIR$PREFIX/bin/omen"
echo "installed $DESTDIR$PREFIX/bin/omen"

# 3. The unit, pointing at the installed binary.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
sed "s#^ExecStart=/usr/local/bin/omen #ExecStart=$PREFIX/bin/omen #" "$UNIT" > "$tmp"
grep -q "^ExecStart=$PREFIX/bin/omen run " "$tmp" || { echo "error: could not set ExecStart in the unit" >&2; exit 1; }
install -D -m 0644 "$tmp" "$DESTDIR/etc/systemd/system/omen.service"
echo "installed $DESTDIR/etc/systemd/system/omen.service"

# 4. The config: the shipped default with the database in the state directory. Exactly one line must change.
count=$(grep -c '^database = "\./omen\.db"' "$SRC_CONFIG" || true)
[ "$count" = 1 ] || { echo "error: expected one 'database = \"./omen.db\"' line in $SRC_CONFIG, found $count" >&2; exit 1; }
sed "s#^database = \"\\./omen\\.db\"#database = \"$STATE_DB\"#" "$SRC_CONFIG" > "$tmp"
install -d -m 0750 "$DESTDIR/etc/omen"
if [ -e "$DESTDIR/etc/omen/omen.toml" ]; then
    target="$DESTDIR/etc/omen/omen.toml.default"
    echo "kept the existing $DESTDIR/etc/omen/omen.toml; the new default is in $target"
else
    target="$DESTDIR/etc/omen/omen.toml"
fi
install -m 0640 "$tmp" "$target"
echo "installed $target"
if [ -z "$DESTDIR" ]; then
    # Root owns the config; the service reads it through its group.
    chown root:omen /etc/omen "$target"
fi

# 5. systemd picks up the unit only when it is running (not in containers or chroots).
if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    echo "reloaded systemd"
else
    echo "systemd is not running here: skipped systemctl daemon-reload"
fi

cat <<NEXT

Next steps:
  edit /etc/omen/omen.toml            (every key is documented where it stands)
  systemctl enable --now omen         (start now and at boot)
  systemctl status omen               (READY once the sockets are bound and the database is open)
  journalctl -u omen -f               (logs)
  systemctl reload omen               (re-read thresholds and log level)
  omen anomalies --database $STATE_DB (as root, as user omen, or as a member of group omen)
NEXT
