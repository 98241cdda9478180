#!/usr/bin/env bash
# Fails when a C++ source file in the tree is not formatted per .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.cc' '*.h' | sort -u)
bad=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: not formatted per .clang-format (run clang-format -i): ${bad[*]}" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
