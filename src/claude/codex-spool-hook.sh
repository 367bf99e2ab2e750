#!/bin/sh
# codex-spool-hook: the Claude Code hook as `codex-spool claude install` adds it (built into dist/, a bin of
# the package). It runs before every prompt and nearly always has nothing to say, while starting Node costs
# about 100 ms. So, when the session's stamp shows that no job can have been filed since the Node hook last
# listed the spool, it exits 0 at once and prints nothing; otherwise, or in any doubt, it hands the same
# stdin bytes to `codex-spool claude hook` (dist/cli.js beside it), which decides and keeps the stamp.
#
# The stamp (spool/.codex-spool-claude/seen/<session>.stamp, src/claude/seen.ts) exists only when every
# finished-state directory was last changed before the listing's time minus 2 s, and its mtime is the newest
# of their mtimes (the file server's clock, which a later filing stamps too). A job filed later changes its
# directory's mtime to at least the listing's time (the kernel's clock may lag by a tick, never by a second),
# so that directory is newer than the stamp even for a test that compares whole seconds (older shells):
# 2 s minus a tick is more than one second; and newer at all when this host's clock runs ahead of the server's.
# A directory swapped for an older one by hand (mv) is not noticed until the next change in it.
#
# POSIX sh (dash): no bash-isms; dd reads the input's start; readlink only for a symlinked path (npm's bin).

# $dist, the package's dist/: this file's directory, each symlink to it followed (npm links a bin; a
# relative target is relative to the link). Only when needed: each readlink is a process.
find_dist() {
  self=$0
  case $self in */*) ;; *) self=./$self ;; esac
  while [ -L "$self" ]; do
    link=$(readlink "$self") || break
    case $link in /*) self=$link ;; *) self=${self%/*}/$link ;; esac
  done
  dist=${self%/*}
}

node_hook() {
  find_dist
  exec node "$dist/cli.js" claude hook
}

# The input (Claude writes one line of JSON and closes stdin). A terminal has none: Node says so.
[ -t 0 ] && node_hook
# Its start only: one read of up to 512 bytes, however long the prompt. The "." keeps trailing newlines.
input=$(dd bs=512 count=1 2>/dev/null; echo .) 2>/dev/null
input=${input%.}

# Not the fast path: Node gets what was read, then the rest of stdin.
fall_through() {
  { printf '%s' "$input"; exec cat; } | node_hook
  exit 0
}

# The session: only from Claude's own serialisation, which starts with it ({"session_id":"…",…}); anything
# in a prompt comes later and cannot forge this anchored start. It must be a job id (src/spool/ids.ts), as
# the Node hook requires of a state file's name; an escape (\u…) is not one, so it goes to Node.
case $input in '{"session_id":"'*) ;; *) fall_through ;; esac
id=${input#'{"session_id":"'}
case $id in *'"'*) id=${id%%'"'*} ;; *) fall_through ;; esac
case $id in '' | .* | *[!ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-]*) fall_through ;; esac
[ ${#id} -le 128 ] || fall_through

# The root, as src/spool/layout.ts finds it: $CODEX_SPOOL_ROOT, else the package's directory. Node resolves
# a `..` in $CODEX_SPOOL_ROOT by the text, the kernel through symlinks: that one goes to Node.
if [ -n "${CODEX_SPOOL_ROOT:-}" ]; then
  root=$CODEX_SPOOL_ROOT
  case /$root/ in */../*) fall_through ;; esac
else
  find_dist
  root=$dist/..
fi

seen=$root/spool/.codex-spool-claude/seen/$id
stamp=$seen.stamp
# A symbolic link there is not the Node hook's stamp (it never follows one there), whatever it points to.
[ -f "$stamp" ] && [ ! -L "$stamp" ] || fall_through
# The stamp speaks for the session's state file: without it (removed by hand) Node meets the session anew.
[ -f "$seen.json" ] || fall_through
# The finished states (src/spool/states.ts). A directory missing now is not newer: a job cannot be in it.
for state in done failed rejected; do
  [ "$root/spool/$state" -nt "$stamp" ] && fall_through
done
exit 0
