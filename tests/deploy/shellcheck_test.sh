#!/usr/bin/env bash
# Runs shellcheck on every shell script in the repository: *.sh files and files whose first line is a
# sh/bash shebang, tracked or new (not ignored); sourced files resolved from each script's own
# directory. (The user-data parts that are not files of their own are checked by eks_test.sh.)
# Usage: shellcheck_test.sh
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$repo" || exit 1
command -v shellcheck >/dev/null || { echo "FATAL: shellcheck is missing (scripts/deps.sh)"; exit 1; }
command -v git >/dev/null || { echo "FATAL: git is missing"; exit 1; }

mapfile -t files < <(git ls-files --cached --others --exclude-standard | while IFS= read -r f; do
  [ -f "$f" ] || continue
  case $f in
    *.sh) echo "$f" ;;
    *) head -n 1 "$f" 2>/dev/null | grep -qE '^#!\s*/(usr/)?bin/(env (ba)?sh|(ba)?sh)\b' && echo "$f" ;;
  esac
done | sort -u)
[ "${#files[@]}" -gt 0 ] || { echo "FATAL: no script found"; exit 1; }

passed=0
failed=0
for f in "${files[@]}"; do
  if out=$(shellcheck -x -P SCRIPTDIR "$f" 2>&1); then
    passed=$((passed + 1))
    echo "ok: $f"
  else
    failed=$((failed + 1))
    echo "FAIL: $f"
    echo "$out" | sed 's/^/    /' | head -n 40
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
