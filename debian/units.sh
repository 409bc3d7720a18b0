#!/bin/sh
# Writes the systemd units of the Debian packages from the project's units in dist/ (so that
# a change there reaches the packages): the programs in /usr/bin instead of
# /opt/exchange4all/ad-connect/bin, adc's configuration in /etc/adc and its state in
# /var/lib/adc, adc-server offering the ad-connect archive of its package.
#   sh debian/units.sh DIST_DIR OUT_DIR    (OUT_DIR/adc.service, OUT_DIR/adc-server.service)
set -eu
dist=$1
out=$2

header() { # unit name, package
  printf '# systemd unit of %s, from the Debian package %s (made from dist/%s).\n' "$1" "$2" "$1"
}

# Comments before [Unit] describe the /opt installation: replaced by the package's own.
{
  header adc.service adc
  echo '# Configure /etc/adc/adc.cfg and /etc/adc/adc.yaml, then: systemctl enable --now adc'
  sed -e '1,/^\[Unit\]/{/^\[Unit\]/!d}' \
      -e 's|^Documentation=.*|Documentation=man:adc(8) man:adc.yaml(5)|' \
      -e 's|^ExecStart=/opt/exchange4all/ad-connect/bin/adc |ExecStart=/usr/bin/adc -C /etc/adc/adc.cfg |' \
      -e 's|^WorkingDirectory=.*|WorkingDirectory=/var/lib/adc|' \
      "$dist/adc.service"
} > "$out/adc.service.tmp"
# The agent's state (state_dir, default /var/lib/adc) is a StateDirectory: add it where dist/
# does not have it yet.
if ! grep -q '^StateDirectory=' "$out/adc.service.tmp"; then
  sed -i 's|^Group=adc$|&\nStateDirectory=adc\nStateDirectoryMode=0750|' "$out/adc.service.tmp"
fi

{
  header adc-server.service adc-server
  echo '# First: sudo -u adc-server adc-server --db /var/lib/adc-server/adc.db init  (prints the'
  echo '# admin token once); then: systemctl enable --now adc-server'
  sed -e '1,/^\[Unit\]/{/^\[Unit\]/!d}' \
      -e 's|^\(Description=.*\)|\1\nDocumentation=man:adc-server(8)|' \
      -e 's|^ExecStart=/opt/exchange4all/ad-connect/bin/adc-server \(.*\)|ExecStart=/usr/bin/adc-server \1 --downloads /usr/share/adc-server/downloads|' \
      "$dist/adc-server.service"
} > "$out/adc-server.service.tmp"

for u in adc adc-server; do
  # Nothing of the /opt installation may be left in an ExecStart, WorkingDirectory or
  # Documentation line.
  if grep -E '^(ExecStart|WorkingDirectory|Documentation)=.*/opt/' "$out/$u.service.tmp"; then
    echo "units.sh: $u.service still refers to /opt" >&2
    exit 1
  fi
  mv "$out/$u.service.tmp" "$out/$u.service"
done
