#!/usr/bin/env bash
# Refresh the translation catalogs: extract every marked string from src/siyu into locale/*/LC_MESSAGES/django.po,
# then compile django.mo. Needs GNU gettext (apt-get install gettext). Commit both the .po and the .mo:
# machines without gettext use the committed .mo, and tests/test_i18n.py checks the two agree.
#
#   scripts/messages.sh              # makemessages + compilemessages for every language in LOCALE_PATHS
#   scripts/messages.sh --compile    # compilemessages only (after editing translations in the .po)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
command -v msgfmt >/dev/null || { echo "GNU gettext is missing: apt-get install gettext" >&2; exit 1; }

export DJANGO_SETTINGS_MODULE=siyu.settings
# makemessages imports the settings; keep it away from the real data dir (and its secret key).
export SIYU_DATA_DIR="${SIYU_DATA_DIR:-$(mktemp -d -t siyu-messages-XXXXXX)}"

cd "$root/src/siyu"
languages=(en)
if [ "${1:-}" != "--compile" ]; then
  args=()
  for lang in "${languages[@]}"; do args+=(-l "$lang"); done
  "$python" -P -m django makemessages "${args[@]}" --ignore=static --no-obsolete
fi
"$python" -P -m django compilemessages

# New strings arrive untranslated ("") and changed ones as fuzzy: both need a translator before committing.
status=0
for lang in "${languages[@]}"; do
  po="locale/$lang/LC_MESSAGES/django.po"
  stats="$(msgfmt --statistics -o /dev/null "$po" 2>&1)"
  echo "$lang: $stats"
  case "$stats" in *fuzzy*|*untranslated*) status=1 ;; esac
done
[ "$status" -eq 0 ] || echo "Translate the untranslated/fuzzy entries above, then run: scripts/messages.sh --compile" >&2
exit "$status"
