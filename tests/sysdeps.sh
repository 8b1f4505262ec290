#!/usr/bin/env bash
# System packages the tests need. Installed when running as root; under CI=true a missing
# one fails the run (never skipped).
set -euo pipefail
# command -> Debian package
declare -A NEED=(
  [gnome-keyring-daemon]=gnome-keyring
  [dbus-run-session]=dbus-daemon
  [dbus-daemon]=dbus-daemon
  [ssh]=openssh-client
  [ssh-keygen]=openssh-client
  [tmux]=tmux
)
missing=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEED[$cmd]}")
done
# PostgreSQL's server binaries are not on PATH on Debian.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
# Nor is sshd (the console's over-SSH tests run a throwaway one).
test -x /usr/sbin/sshd || missing+=(openssh-server)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" = 0 ]; then
  echo "sysdeps: installing ${pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
elif [ "${CI:-}" = true ]; then
  echo "sysdeps: missing ${pkgs[*]} and not root: cannot install under CI" >&2
  exit 1
else
  echo "sysdeps: missing ${pkgs[*]}; tests that need them will fail (run as root or install them)" >&2
fi
