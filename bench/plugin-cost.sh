#!/bin/sh
# The Claude Code plugin's fixed cost per session, as Claude Code itself projects it: a fresh install of this
# checkout's plugin into a temporary HOME, then `claude plugin details`. Usage: sh bench/plugin-cost.sh [REPO_DIR]
set -eu
repo=$(cd "${1:-$(dirname "$0")/..}" && pwd)
claude="$repo/node_modules/.bin/claude"
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export HOME="$home" CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1
"$claude" plugin marketplace add "$repo" >/dev/null
"$claude" plugin install codex-spool@codex-spool >/dev/null
"$claude" plugin details codex-spool@codex-spool | sed -n '/Projected/,/On-invoke cost/p'
