#!/usr/bin/env bash
# What `npm test` needs beside Node: systemd-analyze (test/systemd.test.ts checks the unit with it), and sshd
# with sshfs (test/chaos/multihost.test.ts and sshfs-link.test.ts mount the spool over SFTP from 127.0.0.1).
# Installed here with apt-get when missing and run as root (a fresh Debian machine, CI); otherwise named, with
# the command that installs them, and npm test stops before its first test.
set -euo pipefail
missing=()
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v sshfs >/dev/null 2>&1 && command -v fusermount3 >/dev/null 2>&1 || missing+=(sshfs)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "npm test: installing ${missing[*]} (Debian packages the tests need)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  exit 0
fi
echo "npm test needs the Debian packages ${missing[*]}: sudo apt-get install -y ${missing[*]}" >&2
exit 1
